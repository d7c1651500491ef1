// A real OpenID Connect provider on 127.0.0.1 for the portal's login tests (oidc-provider 9, spec B3).
// It mimics EGI Check-in where the portal can tell: the same scopes and claims (voperson_id,
// eduperson_entitlement in userinfo, ...), RS256 ID tokens, PKCE, introspection, revocation and
// RP-initiated logout. Differences that remain: endpoint paths, opaque access tokens, its own login form.
//
// Configuration by environment (all optional): OP_HOST, OP_PORT, OP_ISSUER, OP_CLIENT_ID,
// OP_CLIENT_SECRET, OP_REDIRECT_URIS and OP_POST_LOGOUT_URIS (space separated), OP_TOKEN_AUTH
// (client_secret_post | client_secret_basic), OP_ACCOUNTS_FILE, OP_JWKS_FILE, OP_ACCESS_TTL, OP_ID_TOKEN_TTL.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const env = process.env;
const HOST = env.OP_HOST || '127.0.0.1';
const PORT = Number(env.OP_PORT || 9000);
const ISSUER = env.OP_ISSUER || `http://${HOST}:${PORT}`;
const words = (value, fallback) => (value || fallback).split(/\s+/).filter(Boolean);
const seconds = (value, fallback) => (value ? Number.parseInt(value, 10) : fallback);

// Accounts: {login: {password, claims: {sub, ...}}}; Check-in releases voperson_id = sub.
const accountsFile = env.OP_ACCOUNTS_FILE || new URL('./accounts.json', import.meta.url);
const ACCOUNTS = JSON.parse(readFileSync(accountsFile, 'utf8'));
const BY_SUB = new Map(Object.values(ACCOUNTS).map(({ claims }) => [claims.sub, { voperson_id: claims.sub, ...claims }]));

// A fresh RS256 signing key per start, unless OP_JWKS_FILE ({keys: [private JWK]}) keeps keys stable.
function signingKeys() {
  if (env.OP_JWKS_FILE) return JSON.parse(readFileSync(env.OP_JWKS_FILE, 'utf8'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `test-${randomBytes(4).toString('hex')}`;
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] };
}

const esc = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body><h1>${esc(title)}</h1>${body}</body></html>`;

function loginForm(uid, clientId, error) {
  return page('Local OP sign-in', `${error ? `<p id="error">${esc(error)}</p>` : ''}
<p>Signing in to ${esc(clientId)}</p>
<form id="login" method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
  <label>Username <input id="username" name="username" required autofocus></label>
  <label>Password <input id="password" name="password" type="password" required></label>
  <button id="submit" type="submit">Sign in</button>
</form>
<p><a id="abort" href="/interaction/${esc(uid)}/abort">Cancel</a></p>`);
}

const PROFILE = ['name', 'given_name', 'family_name', 'preferred_username'];
const EMAIL = ['email', 'email_verified', 'voperson_verified_email'];

const provider = new Provider(ISSUER, {
  clients: [{
    client_id: env.OP_CLIENT_ID || 'portal',
    client_secret: env.OP_CLIENT_SECRET || 'portal-secret',
    redirect_uris: words(env.OP_REDIRECT_URIS, 'http://127.0.0.1:8000/oidc/callback/'),
    post_logout_redirect_uris: words(env.OP_POST_LOGOUT_URIS, 'http://127.0.0.1:8000/'),
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: env.OP_TOKEN_AUTH || 'client_secret_post',
    id_token_signed_response_alg: 'RS256',
  }],
  // Scopes and the claims they release, as at Check-in (spec A2); scope names come from these keys.
  claims: {
    openid: ['sub'],
    profile: PROFILE,
    email: EMAIL,
    voperson_id: ['voperson_id'],
    eduperson_entitlement: ['eduperson_entitlement'],
    eduperson_assurance: ['eduperson_assurance'],
    eduperson_scoped_affiliation: ['eduperson_scoped_affiliation'],
    aarc: [...PROFILE, ...EMAIL, 'voperson_id'],
  },
  // The library filters these by the granted scopes; the ID token keeps only sub (conformIdTokenClaims).
  async findAccount(ctx, sub) {
    const claims = BY_SUB.get(sub);
    return claims && { accountId: sub, claims: async () => claims };
  },
  // Auto-consent: the grant always covers what this request asks for, so there is never a consent
  // page and prompt=none (SessionRefresh) keeps working.
  async loadExistingGrant(ctx) {
    const { client, session } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    let grant = grantId && (await provider.Grant.find(grantId));
    if (!grant || grant.accountId !== session.accountId) {
      grant = new provider.Grant({ accountId: session.accountId, clientId: client.clientId });
    }
    grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
    if (ctx.oidc.requestParamClaims.size) grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
    await grant.save();
    return grant;
  },
  features: {
    devInteractions: { enabled: false }, // they accept any username and password
    introspection: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // Keep the confirmation step (Check-in shows one too with only client_id); `form` holds the xsrf field.
      async logoutSource(ctx, form) {
        ctx.body = page('Sign out of the local OP?', `${form}
<button id="logout-confirm" type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button id="logout-cancel" type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p id="logged-out">You have signed out of the local OP.</p>');
      },
    },
  },
  pkce: { required: () => false }, // S256 accepted when sent, not forced on the confidential client
  clientBasedCORS: () => false,
  cookies: { keys: ['local-op-test-cookie-key-not-a-secret'] },
  clockTolerance: 0, // the default 15 s would keep an expired access token working at userinfo
  jwks: signingKeys(),
  ttl: {
    AccessToken: seconds(env.OP_ACCESS_TTL, 3600),
    IdToken: seconds(env.OP_ID_TOKEN_TTL, 3600),
    AuthorizationCode: 60,
    RefreshToken: 86400,
    Session: 86400,
    Grant: 86400,
    Interaction: 600,
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    const text = [out.error, out.error_description].filter(Boolean).join(': ');
    ctx.body = page('Local OP error', `<pre id="error">${esc(text)}</pre>`);
  },
});

// Reads an application/x-www-form-urlencoded body (no body-parser dependency).
async function formBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// The interaction routes, in front of the OIDC router (provider.use inserts before it in v9). The
// form posts to a sub-path of /interaction/<uid> because the _interaction cookie is scoped to it.
provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([\w-]+)(?:\/(login|abort))?$/);
  if (!match) return next();
  const [, uid, action] = match;
  try {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== uid) throw new Error('interaction does not match its cookie');
    const clientId = details.params.client_id;
    if (!action && ctx.method === 'GET') {
      if (details.prompt.name !== 'login') throw new Error(`unexpected prompt ${details.prompt.name}`);
      ctx.type = 'html';
      ctx.body = loginForm(uid, clientId);
      return undefined;
    }
    let result;
    if (action === 'abort' && ctx.method === 'GET') {
      result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    } else if (action === 'login' && ctx.method === 'POST') {
      const form = await formBody(ctx.req);
      const account = ACCOUNTS[form.get('username')];
      if (!account || account.password !== form.get('password')) {
        ctx.status = 401;
        ctx.type = 'html';
        ctx.body = loginForm(uid, clientId, 'Invalid username or password');
        return undefined;
      }
      result = { login: { accountId: account.claims.sub } };
    } else {
      ctx.throw(405);
    }
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.redirect(returnTo);
    ctx.status = 303;
  } catch (err) {
    // A missing or expired interaction (cookie gone, OP restarted) ends here, not as a bare 500.
    ctx.status = err.status || err.statusCode || 400;
    ctx.type = 'html';
    ctx.body = page('Local OP error', `<pre id="error">${esc(err.error || err.name)}: ${esc(err.error_description || err.message)}</pre>`);
  }
  return undefined;
});

provider.listen(PORT, HOST, () => {
  console.log(`local OP ready: ${ISSUER}/.well-known/openid-configuration (client ${env.OP_CLIENT_ID || 'portal'})`);
});

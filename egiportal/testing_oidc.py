"""A real local OpenID Connect provider for tests (tests/oidc_op/provider.mjs, spec B3) and a code-flow driver.

`LocalOP` runs one `node provider.mjs` on a free loopback port. `LocalOP.tokens()` logs a test account in with
python-requests acting as the browser (authorization code + PKCE S256, state, nonce) and returns the token response,
so API tests can use real bearer tokens. `browser_login()` is the same browser walk for any start URL (e.g. the
portal's /oidc/authenticate/).
"""

import base64
import hashlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

OP_DIR = Path(__file__).resolve().parent.parent / "tests" / "oidc_op"
DEFAULT_SCOPE = "openid profile email voperson_id eduperson_entitlement"
START_TIMEOUT = 20.0
HTTP_TIMEOUT = 10.0
FORM_ACTION = re.compile(r'<form[^>]*\bid="login"[^>]*\baction="([^"]+)"')
AUTO_SUBMIT = re.compile(r'document\.forms\[0\]\.submit\(\).*?<form method="post" action="([^"]+)">(.*?)</form>', re.S)
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"/?>')


class LoginError(RuntimeError):
    """The local OP refused a login (wrong password) or an authorization request."""


def unavailable_reason():
    """Why the local OP cannot run here (node or its packages missing), or None when it can."""
    if not shutil.which("node"):
        return "node is not installed (the local OpenID provider in tests/oidc_op needs Node.js 20+)"
    if not (OP_DIR / "node_modules" / "oidc-provider").is_dir():
        return "tests/oidc_op/node_modules is missing (run `make test`, or `npm ci --prefix tests/oidc_op`)"
    return None


def available():
    return unavailable_reason() is None


def free_port():
    """A loopback port that was free a moment ago (the OP binds it right after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pkce_pair():
    """A code_verifier (64 characters) and its S256 code_challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _redirect_target(response):
    return urljoin(response.url, response.headers["Location"]) if response.is_redirect else None


def browser_login(session, url, username, password, stop_at=None, max_hops=20):
    """Walk a login as a browser would: GET `url`, follow redirects by hand to the OP's form, POST the
    credentials, and follow redirects again.

    Returns the first redirect target that starts with `stop_at` (a string, not fetched: the callback may have
    nobody listening), or the final response when `stop_at` is None. Raises LoginError on a wrong password, and
    when no login form shows up (use a fresh session: with an OP session the OP would not ask again).
    """
    response = session.get(url, allow_redirects=False, timeout=HTTP_TIMEOUT)
    posted = False
    for _ in range(max_hops):
        target = _redirect_target(response)
        auto = AUTO_SUBMIT.search(response.text) if target is None and response.status_code == 200 else None
        if auto:
            # A page that posts itself on load, as the OP's switch from one account's session to another's.
            fields = dict(HIDDEN_INPUT.findall(auto.group(2)))
            response = session.post(auto.group(1), data=fields, allow_redirects=False, timeout=HTTP_TIMEOUT)
            continue
        if target is None:
            if posted:
                return response
            match = FORM_ACTION.search(response.text) if response.status_code == 200 else None
            if not match:
                raise LoginError(f"expected the OP's login form at {response.url}, got HTTP {response.status_code}")
            response = session.post(
                urljoin(response.url, match.group(1)),
                data={"username": username, "password": password},
                allow_redirects=False,
                timeout=HTTP_TIMEOUT,
            )
            if response.status_code == 401:
                raise LoginError(f"the local OP refused {username!r}: invalid username or password (HTTP 401)")
            posted = True
            continue
        if stop_at and target.startswith(stop_at):
            return target
        response = session.get(target, allow_redirects=False, timeout=HTTP_TIMEOUT)
    raise LoginError(f"too many redirects after {url}")


class LocalOP:
    """One `node provider.mjs` process on 127.0.0.1 with a single confidential client.

    `env` adds or overrides OP_* variables (see provider.mjs); `access_ttl` and `id_token_ttl` are seconds.
    """

    def __init__(
        self,
        redirect_uris,
        post_logout_uris=(),
        *,
        client_id="portal",
        client_secret="portal-secret",
        token_auth="client_secret_post",
        access_ttl=None,
        id_token_ttl=None,
        accounts_file=None,
        env=None,
    ):
        self.redirect_uris = list(redirect_uris)
        self.post_logout_uris = list(post_logout_uris)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_auth = token_auth
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.discovery = None
        self.process = None
        self._log = None
        self.env = {
            "OP_HOST": "127.0.0.1",
            "OP_PORT": str(self.port),
            "OP_ISSUER": self.issuer,
            "OP_CLIENT_ID": client_id,
            "OP_CLIENT_SECRET": client_secret,
            "OP_REDIRECT_URIS": " ".join(self.redirect_uris),
            "OP_POST_LOGOUT_URIS": " ".join(self.post_logout_uris),
            "OP_TOKEN_AUTH": token_auth,
        }
        for name, value in (("OP_ACCESS_TTL", access_ttl), ("OP_ID_TOKEN_TTL", id_token_ttl)):
            if value is not None:
                self.env[name] = str(int(value))
        if accounts_file:
            self.env["OP_ACCOUNTS_FILE"] = str(accounts_file)
        self.env.update(env or {})

    def start(self):
        """Launch node and wait until discovery answers; on failure kill it and raise with its output."""
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        # Output goes to a file, not a pipe: nobody reads a pipe while tests run, and a full one would block node.
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            ["node", "provider.mjs"],
            cwd=OP_DIR,
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        url = f"{self.issuer}/.well-known/openid-configuration"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                response = requests.get(url, timeout=1)
                if response.status_code == 200:
                    self.discovery = response.json()
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        exited = self.process.poll()
        self.stop()
        state = f"exited with {exited}" if exited is not None else f"gave no discovery within {START_TIMEOUT:.0f} s"
        raise RuntimeError(f"local OP (node {OP_DIR / 'provider.mjs'}) {state}; its output:\n{self.output()}")

    def output(self):
        """What the node process printed so far."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self._log:
            self._log.close()

    def endpoint(self, name):
        """An endpoint URL from discovery, e.g. endpoint("token")."""
        return self.discovery[f"{name}_endpoint"]

    def _client_auth(self, data):
        """Client credentials in the body or as HTTP basic, as configured (never both: that is invalid_request)."""
        if self.token_auth == "client_secret_basic":
            return data, (self.client_id, self.client_secret)
        return {**data, "client_id": self.client_id, "client_secret": self.client_secret}, None

    def tokens(self, username, password, scope=DEFAULT_SCOPE, nonce=None, redirect_uri=None):
        """Log `username` in through a real authorization-code flow (PKCE S256, state, nonce) and return the
        token response (access_token, id_token, expires_in, scope, token_type).

        Raises LoginError on a wrong password or when the OP answers the callback with an error.
        """
        redirect_uri = redirect_uri or self.redirect_uris[0]
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(16)
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce or secrets.token_urlsafe(16),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        authorize = requests.Request("GET", self.endpoint("authorization"), params=params).prepare().url
        with requests.Session() as browser:
            callback = browser_login(browser, authorize, username, password, stop_at=redirect_uri)
        if not isinstance(callback, str):
            raise LoginError(
                f"the OP did not redirect to {redirect_uri}: HTTP {callback.status_code} at {callback.url}"
            )
        query = {key: values[0] for key, values in parse_qs(urlsplit(callback).query).items()}
        if "error" in query:
            raise LoginError(f"the OP answered {query['error']}: {query.get('error_description', '')}")
        if query.get("state") != state or query.get("iss") != self.issuer:
            raise LoginError(f"callback state or iss do not match the request: {callback}")
        exchange = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": redirect_uri}
        data, auth = self._client_auth({**exchange, "code_verifier": verifier})
        response = requests.post(self.endpoint("token"), data=data, auth=auth, timeout=HTTP_TIMEOUT)
        if response.status_code != 200:
            raise LoginError(f"token exchange failed: HTTP {response.status_code} {response.text}")
        return response.json()

    def userinfo(self, access_token):
        """The raw userinfo response for a bearer token (callers check the status)."""
        return requests.get(
            self.endpoint("userinfo"), headers={"Authorization": f"Bearer {access_token}"}, timeout=HTTP_TIMEOUT
        )

    def introspect(self, token):
        """The introspection answer (dict with `active`, ...) for a token, using the client's credentials."""
        data, auth = self._client_auth({"token": token})
        response = requests.post(self.endpoint("introspection"), data=data, auth=auth, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return response.json()

    def revoke(self, token, token_type_hint="access_token"):
        """Revoke a token at the OP's revocation endpoint (RFC 7009)."""
        data, auth = self._client_auth({"token": token, "token_type_hint": token_type_hint})
        response = requests.post(self.endpoint("revocation"), data=data, auth=auth, timeout=HTTP_TIMEOUT)
        response.raise_for_status()

"""Who is calling: the one reader of caller identity for the PI, the write API, the REST API and the profile.

A caller presents at most one of
- a portal token (egiportal.tokens: a personal API token or a site API credential's token), as
  `Authorization: Bearer <secret>`, `Authorization: Token <secret>` or HTTP Basic with the secret as
  the password and any user name (ARGO's connectors with AuthenticationUsePlainHttpAuth);
- an EGI Check-in access token, as `Authorization: Bearer` (when Check-in is configured);
- a client-certificate DN or OIDC subject, passed by the front proxy in the headers named by
  PI_CLIENT_DN_HEADER / PI_OIDC_SUBJECT_HEADER (off by default: only a proxy that strips them from
  clients may set them);
- a browser session.

The token models come from the PORTAL_TOKEN_MODELS setting, so this module names no app. A token with
the portal's prefix is never sent to Check-in: an unknown one is refused here, saying why.
"""

import base64
import binascii
import re
from dataclasses import dataclass

from django.conf import settings

from . import oidc, tokens
from .models import Identity
from .pixml import XML_ILLEGAL

# The kinds of presented identifiers (the values of sites.models.APICredential.Kind).
X509 = Identity.Realm.X509.value  # "X.509"
OIDC = "OIDC Subject"
SESSION = "session"


class TokenRefused(Exception):
    """A portal token (or an Authorization header that should carry one) that is refused (HTTP 401)."""

    def __init__(self, message, status=401):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Caller:
    """Who is calling: an identifier (DN, subject, token prefix or user name), its kind, the site API
    credential or personal API token it used, if any, and the portal user it acts for, if any."""

    identifier: str = ""
    kind: str = ""
    credential: object = None
    user: object = None
    token: object = None


# ---------------------------------------------------------------- the Authorization header


def authorization(request):
    """(scheme, value) of the Authorization header: scheme lower-cased ("bearer", "token", "basic", ...),
    value with the surrounding spaces stripped; (None, None) without the header."""
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return None, None
    scheme, _, value = header.partition(" ")
    return scheme.lower(), value.strip()


def basic_password(value):
    """The password of an HTTP Basic value (`base64(user:password)`), or None when there is none.
    Raises TokenRefused when the value is not Basic's form at all."""
    try:
        decoded = base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        raise TokenRefused("Invalid Basic authorization header: it must be base64 of user:password.") from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise TokenRefused("Invalid Basic authorization header: it must be base64 of user:password.")
    return password


def presented_secret(request):
    """The portal token of the request's Authorization header, or None when it carries none.

    `Token <secret>` and a Basic password are always taken as portal tokens; a bearer value only when
    it has a portal prefix (other bearer values are Check-in's). A Basic password without a portal
    prefix is ignored: some clients always send a placeholder Basic header.
    Raises TokenRefused for a header that is meant to carry a token but cannot (spaces, no value).
    """
    scheme, value = authorization(request)
    if scheme == "basic":
        if not value:
            raise TokenRefused("Invalid Basic authorization header: it has no value.")
        password = basic_password(value)
        return password if tokens.has_portal_prefix(password) else None
    if scheme == "token" or (scheme == "bearer" and tokens.has_portal_prefix(value)):
        if not value:
            raise TokenRefused("Invalid Authorization header: the token is missing.")
        if any(ch.isspace() for ch in value):
            raise TokenRefused("Invalid Authorization header: give the token as one value without spaces.")
        return value
    return None


def portal_token(secret):
    """The token whose secret is `secret`, usable now; raises TokenRefused saying why not. Records the use."""
    if not tokens.well_formed(secret):
        raise TokenRefused(f"{tokens.UNKNOWN} A token is at most {tokens.MAX_LENGTH} printable ASCII characters.")
    token = tokens.find(secret)
    if token is None:
        raise TokenRefused(tokens.UNKNOWN)
    reason = token.refusal()
    if reason is not None:
        raise TokenRefused(reason)
    return token


# ---------------------------------------------------------------- the caller


def identify(request):
    """The caller of a request (PI or write API).

    Raises TokenRefused for a refused portal token, oidc.InvalidToken for a Check-in token the provider
    refuses, oidc.LoginRefused and oidc.ProviderUnavailable as oidc.bearer_user does.
    """
    secret = presented_secret(request)
    if secret is not None:
        return Caller(**portal_token(secret).caller())
    scheme, value = authorization(request)
    if scheme == "bearer" and value and oidc.enabled():
        if len(value) > 8192 or not value.isascii() or not value.isprintable() or " " in value:
            raise oidc.InvalidToken("This is not a bearer token.")
        user, subject = oidc.bearer_user(value)
        return Caller(subject, OIDC, registered(OIDC, subject), user)
    for kind in (X509, OIDC):
        value = proxy_identity(request, kind)
        if value is None:
            return Caller()  # no DN or subject holds control characters; the database refuses NUL
        if value:
            return Caller(value, kind, registered(kind, value), user_with_identity(kind, value))
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Caller(user.username, SESSION, None, user)
    return Caller()


def registered(kind, value):
    """The usable API credential registered for the presented identifier `value` of `kind`, or None."""
    for model in tokens.token_models():
        credential = model.find_presented(kind, value)
        if credential is not None:
            return credential
    return None


def proxy_identity(request, kind):
    """The client-certificate DN (in slash form) or OIDC subject that the front proxy passes in the header
    named by PI_CLIENT_DN_HEADER or PI_OIDC_SUBJECT_HEADER: "" when there is none, None when the value
    cannot be a DN or subject."""
    x509 = kind == X509
    header = settings.PI_CLIENT_DN_HEADER if x509 else settings.PI_OIDC_SUBJECT_HEADER
    value = request.headers.get(header, "").strip() if header else ""
    if not value:
        return ""
    if x509:
        value = slash_dn(value)
    return None if XML_ILLEGAL.search(value) or len(value) > 255 else value


def slash_dn(dn):
    """An X.509 DN in GOCDB's slash form: RFC 2253 (`CN=x,O=y`, as proxies pass it) is reversed and
    unescaped (`\\,` and `\\XX` UTF-8 bytes); `emailAddress=` becomes `Email=` as GOCDB writes it."""
    if dn.startswith("/"):
        return re.sub(r"/emailAddress=", "/Email=", dn, flags=re.IGNORECASE)
    # Split on unescaped commas; trim the spaces around them but not an escaped trailing space.
    rdns = (re.sub(r"^\s+|(?<!\\)\s+$", "", p) for p in re.findall(r"(?:\\.|[^,\\])+", dn))
    parts = [_rdn_unescape(p) for p in rdns if p]
    parts = ["Email=" + p.split("=", 1)[1] if p.lower().startswith("emailaddress=") else p for p in parts]
    return "/" + "/".join(reversed(parts))


def _rdn_unescape(text):
    """An RDN with its RFC 2253 escapes decoded: `\\c` is c, `\\XX` a byte of the UTF-8 value."""
    raw = re.sub(rb"\\([0-9A-Fa-f]{2})|\\(.)", lambda m: bytes.fromhex(m[1].decode()) if m[1] else m[2], text.encode())
    return raw.decode(errors="replace")


def user_with_identity(kind, value):
    identity = Identity.objects.filter(realm=Identity.realm_for(kind), value=value).select_related("user").first()
    return identity.user if identity else None


# ---------------------------------------------------------------- requests from other sites

# Browsers present client certificates, cached HTTP Basic credentials and cookies on requests that
# another site's page makes. Of the writes, only a POST with a form's content type (or none) needs no
# CORS preflight, which the portal never grants: that is the request a hostile page can send.
FORM_SAFE_TYPE = "application/json"


def foreign_origin_refusal(request):
    """(403, reason) if the browser says `request` comes from another site's page (Origin, Sec-Fetch-Site),
    else None. Endpoints whose bodies cannot be JSON (accounting messages) ask only this, and take no
    credential a browser presents by itself (cookies, HTTP Basic)."""
    origin = request.headers.get("Origin")
    trusted = origin is not None and (
        origin == f"{request.scheme}://{request.get_host()}" or origin in settings.CSRF_TRUSTED_ORIGINS
    )
    if origin is not None and not trusted:
        return 403, f"Requests from other sites are refused: Origin {origin[:200]!r} is not this portal."
    if not trusted and request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
        return 403, "Requests from other sites are refused: the browser says this one comes from another site."
    return None


def cross_site_refusal(request):
    """(HTTP status, reason) if the write `request` may come from another site's page, else None: an
    Origin other than the portal's own (or one of CSRF_TRUSTED_ORIGINS), a Sec-Fetch-Site of another
    site, or a POST with a body not declared JSON. Programs (curl, clients) send neither header."""
    refusal = foreign_origin_refusal(request)
    if refusal is not None:
        return refusal
    declared = request.content_type or (FORM_SAFE_TYPE if request.META.get("CONTENT_LENGTH") in (None, "", "0") else "")
    if request.method == "POST" and declared != FORM_SAFE_TYPE:
        return 415, f"Send the request body as JSON, with the header Content-Type: {FORM_SAFE_TYPE}."
    return None

"""Login with EGI Check-in over OpenID Connect (specs/oidc.md), built on mozilla-django-oidc.

What differs from the library's defaults, and why:

- Endpoints come from the issuer's discovery document (cached), read when used rather than when a view,
  middleware or backend is built, so a local password login never contacts the provider and a provider
  that is down breaks only Check-in logins.
- ID tokens are RS256, checked against the provider's JWKS (cached, fetched again once for an unknown
  key id) and, beyond the library, for `iss`, `aud` and `azp`.
- Users are keyed by `voperson_id` (else `sub`) through `Identity`, never by e-mail; names and e-mail
  are refreshed, and VO memberships replaced, from userinfo at every login.
- A refused login (required entitlement missing, identity linked elsewhere, provider unreachable) ends
  on a page that says why, with status 403.
- A logged-in user may link another Check-in identity to the account (`?link=1`).
"""

import hashlib
import logging
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.shortcuts import render, resolve_url
from django.utils.crypto import get_random_string
from mozilla_django_oidc import auth as oidc_auth
from mozilla_django_oidc import middleware as oidc_middleware
from mozilla_django_oidc import views as oidc_views
from mozilla_django_oidc.utils import import_from_settings

from . import entitlements
from .models import Identity, VirtualOrganisation, VOMembership

log = logging.getLogger(__name__)

# Setting -> key of the discovery document (OpenID Connect Discovery 1.0, RFC 8414).
ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_LOGOUT_ENDPOINT": "end_session_endpoint",
    "OIDC_OP_INTROSPECTION_ENDPOINT": "introspection_endpoint",
}
UNREACHABLE = "EGI Check-in could not be reached or gave an answer the portal cannot use. Please try again later."
LINK_SESSION_KEY = "oidc_link_user"


class LoginRefused(Exception):
    """A Check-in login the portal refuses; the message is shown to the user."""


class InvalidToken(Exception):
    """A bearer token the provider does not accept (unknown, expired, revoked, for another client)."""


class ProviderUnavailable(Exception):
    """The provider could not be asked about a token."""


def enabled():
    """Whether Check-in login is configured (issuer and client id)."""
    return bool(settings.OIDC_OP_ISSUER and settings.OIDC_RP_CLIENT_ID)


def _cache_key(kind, value):
    return f"oidc:{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def fetch_json(url, **kwargs):
    """GET (or POST with `data`) a JSON document from the provider; raises requests' errors."""
    method = requests.post if "data" in kwargs else requests.get
    response = method(url, timeout=settings.OIDC_TIMEOUT, **kwargs)
    response.raise_for_status()
    return response.json()


def discovery():
    """The issuer's discovery document, cached for OIDC_DISCOVERY_CACHE_SECONDS."""
    issuer = settings.OIDC_OP_ISSUER
    key = _cache_key("discovery", issuer)
    document = cache.get(key)
    if document is None:
        document = fetch_json(f"{issuer}/.well-known/openid-configuration")
        if not isinstance(document, dict) or document.get("issuer") != issuer:
            # Discovery §4.3: the document must name the issuer it was fetched for.
            raise SuspiciousOperation(f"The discovery document of {issuer} names another issuer.")
        cache.set(key, document, settings.OIDC_DISCOVERY_CACHE_SECONDS)
    return document


def get_setting(name, *default):
    """mozilla-django-oidc's settings lookup, with the provider's endpoints from discovery when unset."""
    if name in ENDPOINTS:
        return getattr(settings, name, "") or (discovery().get(ENDPOINTS[name], "") if enabled() else "")
    return import_from_settings(name, *default)


def jwks(refresh=False):
    """The provider's signing keys, cached like discovery; `refresh` fetches them again."""
    url = get_setting("OIDC_OP_JWKS_ENDPOINT")
    key = _cache_key("jwks", url)
    keys = None if refresh else cache.get(key)
    if keys is None:
        keys = fetch_json(url).get("keys", [])
        cache.set(key, keys, settings.OIDC_DISCOVERY_CACHE_SECONDS)
    return keys


def subject_of(claims):
    """The user key of Check-in claims: voperson_id (the Community User Identifier), else sub."""
    for name in ("voperson_id", "sub"):
        value = claims.get(name)
        if isinstance(value, list):  # voperson_id is multi-valued in the schema; Check-in sends one
            value = value[0] if value else None
        if isinstance(value, str) and 0 < len(value) <= 255 and value.isprintable() and " " not in value:
            return value
    return None


def entitlement_values(claims):
    values = claims.get("eduperson_entitlement")
    return [values] if isinstance(values, str) else values if isinstance(values, list) else []


def _claim_text(claims, name, limit):
    value = claims.get(name)
    return value.strip()[:limit] if isinstance(value, str) and value.isprintable() else ""


class CheckinBackend(oidc_auth.OIDCAuthenticationBackend):
    """The Check-in backend: verifies the code flow's tokens and maps userinfo claims to a portal user."""

    get_settings = staticmethod(get_setting)
    OIDC_RP_SIGN_ALGO = "RS256"
    OIDC_RP_IDP_SIGN_KEY = None

    def __init__(self, *args, **kwargs):
        # The library reads every endpoint here; Django builds this backend for local password logins
        # too, which must work without the provider. Endpoints are properties instead.
        self.UserModel = get_user_model()
        self.request = None

    OIDC_OP_TOKEN_ENDPOINT = property(lambda self: get_setting("OIDC_OP_TOKEN_ENDPOINT"))
    OIDC_OP_USER_ENDPOINT = property(lambda self: get_setting("OIDC_OP_USER_ENDPOINT"))
    OIDC_OP_JWKS_ENDPOINT = property(lambda self: get_setting("OIDC_OP_JWKS_ENDPOINT"))
    OIDC_RP_CLIENT_ID = property(lambda self: settings.OIDC_RP_CLIENT_ID)
    OIDC_RP_CLIENT_SECRET = property(lambda self: settings.OIDC_RP_CLIENT_SECRET)

    def authenticate(self, request, **kwargs):
        """The code flow's last step; None (with `request.oidc_refusal` saying why) when refused."""
        if not enabled() or request is None or "code" not in request.GET:
            return None
        try:
            return super().authenticate(request, **kwargs)
        except LoginRefused as exc:
            request.oidc_refusal = str(exc)
        except (requests.RequestException, SuspiciousOperation, jwt.PyJWTError, ValueError) as exc:
            log.warning("Check-in login failed: %s", exc)
            request.oidc_refusal = UNREACHABLE
        return None

    def retrieve_matching_jwk(self, token):
        """The JWKS key named by the token's `kid`, from the cached key set (fetched again once, for
        a key the provider has rotated in)."""
        header = jwt.get_unverified_header(token)
        for refresh in (False, True):
            for key in jwks(refresh):
                if key.get("kid") == header.get("kid") and key.get("alg", header.get("alg")) == header.get("alg"):
                    return jwt.PyJWK(key)
        raise SuspiciousOperation("The ID token is signed with a key the provider does not publish.")

    def verify_token(self, token, **kwargs):
        """The library's signature, expiry and nonce checks, plus issuer, audience and authorized party."""
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audience = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
        client = settings.OIDC_RP_CLIENT_ID
        if payload.get("iss") != settings.OIDC_OP_ISSUER:
            raise SuspiciousOperation("The ID token comes from another issuer.")
        if client not in audience or (len(audience) > 1 and payload.get("azp") != client):
            raise SuspiciousOperation("The ID token was issued to another client.")
        return payload

    def verify_claims(self, claims):
        if not isinstance(claims, dict) or subject_of(claims) is None:
            raise LoginRefused("EGI Check-in did not send your identifier (voperson_id), so you cannot log in.")
        required = settings.OIDC_REQUIRED_ENTITLEMENT
        if required and required not in entitlement_values(claims):
            raise LoginRefused(
                f"Your EGI Check-in account lacks the entitlement {required}, which this portal requires. "
                "Ask your identity provider or Check-in support about it."
            )
        return True

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(
            identities__realm=Identity.Realm.CHECKIN, identities__value=subject_of(claims)
        )

    def create_user(self, claims):
        """A new account for a new identity, or the identity linked to the logged-in user (`?link=1`)."""
        subject = subject_of(claims)
        with transaction.atomic():
            user = self._linking_user()
            if user is None:
                username = subject if not self.UserModel.objects.filter(username=subject).exists() else None
                user = self.UserModel(username=username or f"checkin-{get_random_string(12).lower()}")
                user.set_unusable_password()
                user.save()
            try:
                with transaction.atomic():
                    Identity.objects.create(user=user, realm=Identity.Realm.CHECKIN, value=subject)
            except IntegrityError:  # the same identity's first login, twice at once
                raise LoginRefused("This EGI Check-in identity is already linked to an account.") from None
        return self.update_user(user, claims)

    def update_user(self, user, claims):
        """Names and e-mail from userinfo, and the VO memberships the entitlements give (all at once)."""
        linking = self._linking_user()
        if linking is not None and linking.pk != user.pk:
            raise LoginRefused("This EGI Check-in identity is already linked to another portal account.")
        changes = {
            "first_name": _claim_text(claims, "given_name", 150),
            "last_name": _claim_text(claims, "family_name", 150),
            "email": _claim_text(claims, "email", 254),
        }
        changes = {name: value for name, value in changes.items() if value and getattr(user, name) != value}
        grants = entitlements.vo_grants(
            entitlement_values(claims),
            authority=settings.EGI_ENTITLEMENT_AUTHORITY,
            manager_roles=settings.EGI_VO_MANAGER_ROLES,
            manager_subgroup=settings.EGI_VO_MANAGER_SUBGROUP,
        )
        with transaction.atomic():
            if changes:
                for name, value in changes.items():
                    setattr(user, name, value)
                user.save(update_fields=list(changes))
            sync_memberships(user, grants)
        return user

    def get_userinfo(self, access_token, id_token, payload):
        """Userinfo claims; for an API bearer token (no ID token) with OIDC_INTROSPECT, the token is first
        introspected, so that only tokens issued to this portal are accepted."""
        if id_token is None and settings.OIDC_INTROSPECT:
            answer = fetch_json(
                get_setting("OIDC_OP_INTROSPECTION_ENDPOINT"),
                data={"token": access_token},
                auth=(settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET),
            )
            audience = answer.get("aud")
            audience = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
            if answer.get("active") is not True or settings.OIDC_RP_CLIENT_ID not in [
                answer.get("client_id"),
                *audience,
            ]:
                raise InvalidToken("The token is not active, or was issued to another client.")
        return super().get_userinfo(access_token, id_token, payload)

    def _linking_user(self):
        """The logged-in user who asked to link another identity, during that callback only."""
        request = self.request
        if request is None or not request.user.is_authenticated:
            return None
        return request.user if request.session.get(LINK_SESSION_KEY) == request.user.pk else None


def sync_memberships(user, grants):
    """Make `user`'s Check-in memberships exactly `grants` ({vo: VOGrant}); local ones stay."""
    vos = {vo.name: vo for vo in VirtualOrganisation.objects.filter(name__in=grants)}
    for name in sorted(set(grants) - set(vos)):
        vos[name], _ = VirtualOrganisation.objects.get_or_create(name=name)
    stored = {m.vo.name: m for m in user.vo_memberships.filter(source=VOMembership.Source.CHECKIN).select_related("vo")}
    user.vo_memberships.filter(source=VOMembership.Source.CHECKIN).exclude(vo__name__in=grants).delete()
    for name, grant in grants.items():
        values = {"roles": sorted(grant.roles), "groups": sorted(grant.groups), "manager": grant.manager}
        membership = stored.get(name)
        if membership is None:
            VOMembership.objects.create(user=user, vo=vos[name], source=VOMembership.Source.CHECKIN, **values)
        elif any(getattr(membership, field) != value for field, value in values.items()):
            VOMembership.objects.filter(pk=membership.pk).update(**values)


def bearer_user(token):
    """(user, subject) of a Check-in access token: the active portal user, mapped as at login (created
    on first use), and the token's voperson_id.

    The provider is asked once per OIDC_USERINFO_CACHE_SECONDS for each token, refusals included.
    Raises InvalidToken, LoginRefused (a valid token whose user may not log in) or ProviderUnavailable.
    """
    if not enabled():
        raise InvalidToken("Check-in tokens are not accepted: Check-in is not configured.")
    key = _cache_key("bearer", token)
    outcome = cache.get(key)
    if outcome is None:
        outcome = _check_bearer(token)
        cache.set(key, outcome, settings.OIDC_USERINFO_CACHE_SECONDS)
    kind, *value = outcome
    if kind == "invalid":
        raise InvalidToken(value[0])
    if kind == "refused":
        raise LoginRefused(value[0])
    user = get_user_model().objects.filter(pk=value[0], is_active=True).first()
    if user is None:
        raise LoginRefused("The portal account of this token is disabled.")
    return user, value[1]


class TokenBackend(CheckinBackend):
    """The login backend for bearer tokens: it also keeps the claims it was given."""

    def get_userinfo(self, access_token, id_token, payload):
        self.claims = super().get_userinfo(access_token, id_token, payload)
        return self.claims


def _check_bearer(token):
    """Ask the provider about `token`: ("user", pk, subject), ("invalid", why) or ("refused", why)."""
    backend = TokenBackend()
    try:
        user = backend.get_or_create_user(token, None, None)
    except InvalidToken as exc:
        return ("invalid", str(exc))
    except LoginRefused as exc:
        return ("refused", str(exc))
    except requests.HTTPError as exc:
        if exc.response is None or exc.response.status_code not in (400, 401, 403):
            log.warning("Check-in token check failed: %s", exc)
            raise ProviderUnavailable(UNREACHABLE) from None
        return ("invalid", "EGI Check-in does not accept this token (unknown, expired or revoked).")
    except (requests.RequestException, SuspiciousOperation, ValueError) as exc:
        log.warning("Check-in token check failed: %s", exc)
        raise ProviderUnavailable(UNREACHABLE) from None
    if user is None:
        return ("refused", "No portal account matches this token.")
    return ("user", user.pk, subject_of(backend.claims))


class AuthenticateView(oidc_views.OIDCAuthenticationRequestView):
    """/oidc/authenticate/: to the provider; `?link=1` (logged in) links another identity instead."""

    get_settings = staticmethod(get_setting)

    def __init__(self, *args, **kwargs):
        oidc_views.View.__init__(self, *args, **kwargs)  # endpoints are read per request, not here

    OIDC_OP_AUTH_ENDPOINT = property(lambda self: get_setting("OIDC_OP_AUTHORIZATION_ENDPOINT"))
    OIDC_RP_CLIENT_ID = property(lambda self: settings.OIDC_RP_CLIENT_ID)

    def get(self, request):
        if not enabled():
            return refused(request, "Login with EGI Check-in is not configured on this portal.", status=404)
        linking = request.GET.get("link") == "1" and request.user.is_authenticated
        request.session[LINK_SESSION_KEY] = request.user.pk if linking else None
        try:
            return super().get(request)
        except (requests.RequestException, SuspiciousOperation, ValueError) as exc:
            log.warning("Check-in discovery failed: %s", exc)
            return refused(request, UNREACHABLE, status=503)

    def get_extra_params(self, request):
        extra = dict(super().get_extra_params(request))
        if request.session.get(LINK_SESSION_KEY):
            extra["prompt"] = "login"  # the other identity, not the provider's current session
        return extra


class CallbackView(oidc_views.OIDCAuthenticationCallbackView):
    """/oidc/callback/: a refused login shows why (403) instead of the library's bare redirect."""

    def get(self, request):
        response = super().get(request)
        request.session.pop(LINK_SESSION_KEY, None)
        return response

    def login_failure(self):
        request = self.request
        reason = getattr(request, "oidc_refusal", None)
        error = request.GET.get("error")
        if reason is None and error in ("login_required", "interaction_required", "consent_required"):
            # A silent renewal (prompt=none) found no session at the provider: log in again.
            return super().login_failure()
        if reason is None:
            reason = (
                f"EGI Check-in refused the login ({error[:100]})." if error else "The login could not be completed."
            )
        return refused(request, reason)


def refused(request, reason, status=403):
    return render(request, "registration/login_failed.html", {"reason": reason}, status=status)


class SessionRefresh(oidc_middleware.SessionRefresh):
    """Silent renewal (`prompt=none`) of Check-in sessions once their ID token's time is up.

    Only for sessions that logged in with Check-in, and not for the APIs, the callback or static
    files, whose callers cannot follow a redirect to the provider."""

    EXEMPT_PREFIXES = ("/api/", "/gocdbpi/", "/oidc/", "/static/", "/healthz", "/logout/")
    get_settings = staticmethod(get_setting)

    def __init__(self, get_response):
        # The library reads the authorization endpoint here, at start-up; it is a property instead.
        oidc_middleware.MiddlewareMixin.__init__(self, get_response)
        self.OIDC_EXEMPT_URLS = []
        self.OIDC_STATE_SIZE = self.OIDC_NONCE_SIZE = 32
        self.OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
        self.OIDC_RP_SCOPES = settings.OIDC_RP_SCOPES
        self.OIDC_USE_NONCE = True

    OIDC_OP_AUTHORIZATION_ENDPOINT = property(lambda self: get_setting("OIDC_OP_AUTHORIZATION_ENDPOINT"))
    OIDC_RP_CLIENT_ID = property(lambda self: settings.OIDC_RP_CLIENT_ID)

    def process_request(self, request):
        try:
            return super().process_request(request)
        except (requests.RequestException, SuspiciousOperation, ValueError) as exc:
            # The provider is down: keep the session (the next page tries again) rather than fail the page.
            log.warning("Check-in session renewal skipped: %s", exc)
            return None

    def is_refreshable_url(self, request):
        # htmx fragments are fetched in the background, where a redirect to the provider cannot work;
        # the next full page renews the session instead.
        if not enabled() or request.path.startswith(self.EXEMPT_PREFIXES) or "HX-Request" in request.headers:
            return False
        backend = request.session.get(BACKEND_SESSION_KEY)
        return backend == "egiportal.oidc.CheckinBackend" and super().is_refreshable_url(request)


def provider_logout_url(request):
    """Where logout goes: the provider's end-session endpoint (RP-initiated logout, with id_token_hint)
    for a Check-in session, else the portal's LOGOUT_REDIRECT_URL."""
    back = request.build_absolute_uri(resolve_url(settings.LOGOUT_REDIRECT_URL))
    if not enabled() or request.session.get(BACKEND_SESSION_KEY) != "egiportal.oidc.CheckinBackend":
        return back
    try:
        endpoint = get_setting("OIDC_OP_LOGOUT_ENDPOINT")
    except (requests.RequestException, SuspiciousOperation, ValueError):
        endpoint = ""
    if not endpoint:
        return back
    params = {"post_logout_redirect_uri": back, "client_id": settings.OIDC_RP_CLIENT_ID}
    if request.session.get("oidc_id_token"):
        params["id_token_hint"] = request.session["oidc_id_token"]
    return f"{endpoint}?{urlencode(params)}"

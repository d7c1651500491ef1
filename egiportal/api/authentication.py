"""Authentication of REST API requests with portal tokens (egiportal.tokens): personal API tokens
(egiportal.models.APIToken) and the portal tokens of site API credentials.

Accepted forms (read by egiportal.identity): `Authorization: Token <secret>`, `Authorization: Bearer
<secret>` with a portal prefix, and HTTP Basic with the secret as the password (any user name). A
bearer value without a portal prefix is left to CheckinAuthentication (EGI Check-in access tokens).
"""

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import APIException, AuthenticationFailed, PermissionDenied

from egiportal import identity

KEYWORD = "Token"


class TokenAuthentication(BaseAuthentication):
    """Portal tokens; on success returns (user, token) and records the use on the token. A refused
    token is a 401 that says why (unknown or revoked, expired, malformed header)."""

    def authenticate(self, request):
        try:
            secret = identity.presented_secret(request)
            if secret is None:
                return None
            token = identity.portal_token(secret)
        except identity.TokenRefused as exc:
            raise AuthenticationFailed(exc.message) from None
        token.touch()
        return token.user, token

    def authenticate_header(self, request):
        """The WWW-Authenticate value of 401 replies (without it DRF answers 403)."""
        return KEYWORD


class CheckinAuthentication(BaseAuthentication):
    """EGI Check-in access tokens (`Authorization: Bearer <token>`), validated at the provider and mapped
    to a portal user as the browser login does (egiportal.oidc.bearer_user).

    A token the provider does not accept is a 401; a valid one whose user may not log in (a required
    entitlement missing) is a 403; an unreachable provider is a 503."""

    def authenticate(self, request):
        from egiportal import oidc

        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Invalid Authorization header: give the bearer token as one value.")
        try:
            token = parts[1].decode("ascii")
        except UnicodeError:
            raise AuthenticationFailed("Invalid bearer token: it contains characters a token never has.") from None
        if len(token) > 8192:
            raise AuthenticationFailed("Invalid bearer token: it is too long.")
        try:
            user, _subject = oidc.bearer_user(token)
        except oidc.InvalidToken as exc:
            raise AuthenticationFailed(str(exc)) from None
        except oidc.LoginRefused as exc:
            raise PermissionDenied(str(exc)) from None
        except oidc.ProviderUnavailable as exc:
            raise ServiceUnavailable(str(exc)) from None
        return user, token  # writes are then governed by the user's roles, throttling by the user

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ServiceUnavailable(APIException):
    status_code = 503
    default_detail = "The identity provider could not be reached."
    default_code = "service_unavailable"

"""Authentication of REST API requests with personal API tokens (egiportal.models.APIToken).

Accepted forms: `Authorization: Token <secret>` and `Authorization: Bearer egit_<...>`. A bearer value
that is not one of our tokens is left to CheckinAuthentication (EGI Check-in access tokens).
"""

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import APIException, AuthenticationFailed, PermissionDenied

from egiportal.models import APIToken

KEYWORD = "Token"


def read_credentials(request):
    """(keyword, value) of the Authorization header, lower-cased keyword; (None, None) without one.

    Raises AuthenticationFailed for a Token header whose value is missing, has spaces or is not text,
    and for such an `egit_` bearer value; other malformed bearer values are not ours to judge.
    """
    parts = get_authorization_header(request).split()
    if not parts:
        return None, None
    keyword = parts[0].lower()
    if keyword not in (b"token", b"bearer"):
        return None, None
    ours = keyword == b"token" or (len(parts) > 1 and parts[1].startswith(APIToken.SECRET_PREFIX.encode()))
    if not ours:
        return None, None
    if len(parts) != 2:
        raise AuthenticationFailed("Invalid Authorization header: give the API token as one value without spaces.")
    try:
        return keyword.decode(), parts[1].decode("ascii")
    except UnicodeError:
        raise AuthenticationFailed("Invalid API token: it contains characters a token never has.") from None


class TokenAuthentication(BaseAuthentication):
    """Personal API tokens; on success returns (user, token) and records the use on the token."""

    def authenticate(self, request):
        keyword, secret = read_credentials(request)
        if secret is None:
            return None
        token = APIToken.objects.matching(secret)
        if token is None:
            raise AuthenticationFailed("Invalid API token.")
        if token.revoked is not None:
            raise AuthenticationFailed("This API token has been revoked.")
        if token.is_expired:
            raise AuthenticationFailed("This API token has expired.")
        if not token.user.is_active:
            raise AuthenticationFailed("The account of this API token is disabled.")
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

"""Permission checks of the REST API that depend on how the request was authenticated."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from egiportal.models import APIToken


class TokenWritePermission(BasePermission):
    """Refuses unsafe methods (POST, PUT, PATCH, DELETE) to requests made with a read-only API token.

    Sessions and other authentication are not concerned: their writes are checked by the usual
    object permissions.
    """

    message = "This API token is read-only."

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        token = request.auth
        return not isinstance(token, APIToken) or token.write_enabled

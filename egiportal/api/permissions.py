"""Permission checks of the REST API that depend on how the request was authenticated."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from egiportal.tokens import SecretToken


class TokenWritePermission(BasePermission):
    """Refuses unsafe methods (POST, PUT, PATCH, DELETE) to requests made with a portal token that may
    not write (a read-only personal token; a site API credential, which writes through the write API).

    Sessions and other authentication are not concerned: their writes are checked by the usual
    object permissions.
    """

    message = "Read-only token."

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS or not isinstance(request.auth, SecretToken):
            return True
        reason = request.auth.write_refusal()
        if reason is not None:
            self.message = reason  # DRF makes the permission objects per request
        return reason is None

"""Permission checks of the REST API that depend on how the request was authenticated."""

from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.permissions import SAFE_METHODS, BasePermission

from egiportal.identity import cross_site_refusal
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


class SameSiteWritePermission(BasePermission):
    """Refuses writes that another site's page may have made with the browser's credentials (cached
    HTTP Basic tokens, client certificates, cookies): egiportal.identity.cross_site_refusal."""

    def has_permission(self, request, view):
        refusal = None if request.method in SAFE_METHODS else cross_site_refusal(request)
        if refusal is None:
            return True
        status, self.message = refusal
        if status == UnsupportedMediaType.status_code:
            raise UnsupportedMediaType(request.content_type, detail=self.message)
        return False

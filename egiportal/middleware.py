import uuid

from django.conf import settings

from .context import request_id


class RequestContextMiddleware:
    """Gives every request an id (echoed as X-Request-ID) that ties its audit rows together."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = uuid.uuid4()
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = str(rid)
        return response


class ContentSecurityPolicyMiddleware:
    """Sends CONTENT_SECURITY_POLICY with every response that has none of its own: the portal's pages load
    only what the portal serves, so an injected script or a foreign resource does not run."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response

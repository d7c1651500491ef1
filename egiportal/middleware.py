import uuid

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

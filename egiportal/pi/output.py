"""Replies of the PI: errors, plain-text refusals and absolute links."""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse

from ..pixml import escape_text


def url_template(name):
    """`{PORTAL_URL}/path/{}/` for a detail page URL name, so rows format instead of reversing."""
    return settings.PORTAL_URL + reverse(name, args=[987654321]).replace("987654321", "{}")


def error_response(message):
    return HttpResponse(f"<error>{escape_text(message)}</error>", content_type="application/xml")


def text_response(message):
    return HttpResponse(message, content_type="text/plain; charset=utf-8")


def origin(request):
    """`scheme://host` for links back to this server in a reply to `request`: PORTAL_URL when the
    request came through it (so a TLS-terminating proxy's https:// is kept), else the host the client
    called, so that a client following `rel="next"` verbatim stays on the server it asked (ALLOWED_HOSTS
    has already vetted the Host header)."""
    portal = urlsplit(settings.PORTAL_URL)
    host = request.get_host()
    if host.lower() == portal.netloc.lower():
        return settings.PORTAL_URL
    return f"{request.scheme}://{host}"

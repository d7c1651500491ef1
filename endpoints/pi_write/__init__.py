"""The GOCDB write API (specs/gocdb.md §12): JSON requests to
`/gocdbpi/v5/{site|service|endpoint}/{id}/{property}[/{key}]` that change extension properties, the
fields of services and endpoints, and the endpoints of a service.

A request is checked in GOCDB's order: URL and method (400/405), body (413/400), field formats (400),
"is the caller authenticated at all" (403), the entity (404), "is the caller's identifier a
write-enabled API credential of the owning site" (403), then the operation (405/409/400/501).
Writes go through the same services as browser edits, acting as the credential's owner, so they are
validated, all-or-nothing and audited alike. Success is 204 without a body or Content-Type; errors
are `{"Error": {"Code": ..., "Message": ..., "API-Documentation": ...}}` with that HTTP status.

`request` checks the URL, the JSON and the field formats; `operations` finds the caller's credential and
performs the change; this module reads the body and answers.
"""

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse

from egiportal import oidc
from egiportal.context import current_request_id, noting
from egiportal.identity import TokenRefused, cross_site_refusal, identify

from .operations import authenticated, check_identity_headers, entity_type, find, perform, write_credential
from .request import METHODS, WriteError, docs, parse_body, parse_url, validate

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # bytes; GOCDB's bodies are a handful of short strings

# ---------------------------------------------------------------- the body


def too_big():
    return WriteError(413, f"The request body is larger than {MAX_BODY} bytes.")


def read_body(request):
    """The raw body, at most MAX_BODY bytes (refused before reading when Content-Length says more)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        raise too_big()
    try:
        raw = request.read(MAX_BODY + 1)
    except RequestDataTooBig:
        raise too_big() from None
    if len(raw) > MAX_BODY:
        raise too_big()
    return raw


# ---------------------------------------------------------------- the view


def error_response(code, message):
    body = {"Error": {"Code": code, "Message": message, "API-Documentation": docs()}}
    response = JsonResponse(body, status=code)
    if code == 405:
        response["Allow"] = ", ".join(METHODS)
    return response


def handle(http_request, path):
    call = parse_url(path, http_request.method)
    refusal = cross_site_refusal(http_request)
    if refusal:
        raise WriteError(*refusal)
    parse_body(call, read_body(http_request))
    validate(call)
    check_identity_headers(http_request)
    caller = authenticated(caller_of(http_request))
    kind = entity_type(call)
    entity = find(kind, call.entity_id)
    credential = write_credential(caller, kind.site(entity))
    with noting(f"via the write API, {credential.get_kind_display()} {credential.identifier}"):
        perform(call, entity, credential)


def caller_of(http_request):
    """The caller, with refused tokens answered as the PI and the REST API answer them."""
    try:
        return identify(http_request)
    except TokenRefused as exc:  # 403, as GOCDB answers every caller it cannot authenticate
        raise WriteError(403, exc.message) from None
    except oidc.InvalidToken as exc:
        raise WriteError(401, str(exc)) from None
    except oidc.LoginRefused as exc:
        raise WriteError(403, str(exc)) from None
    except oidc.ProviderUnavailable as exc:
        raise WriteError(503, str(exc)) from None


def write_view(http_request, request):
    """`/gocdbpi/<request>`: `request` is the path after /gocdbpi/ (GOCDB's rewrite parameter name).

    Exempt from CSRF checks (clients are programs, and only API credentials authorise a write); what a
    browser may send from another site's page is refused (cross_site_refusal).
    """
    try:
        handle(http_request, request)
    except WriteError as exc:
        return error_response(exc.code, exc.message)
    except Exception:
        # Clients expect GOCDB's JSON error form even here; the traceback goes to the log.
        logger.exception("Write API request failed: %s %s", http_request.method, http_request.path)
        return error_response(
            500,
            "Internal error. Please contact the portal administrators. "
            f"Message: unexpected failure (request id {current_request_id()})",
        )
    response = HttpResponse(status=204)
    del response["Content-Type"]
    return response


# What @csrf_exempt sets; its wrapper's own `request` parameter would clash with the URL's `request`.
write_view.csrf_exempt = True

"""The PI view: method lookup, the caller, parameter checks, GOCDB's protection levels, the reply."""

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_safe

from .. import dbtimeout, identity, oidc, permissions
from ..pixml import document
from . import paging
from .base import PROTECTED, PUBLIC, Listing, PIDenied, PIError, Query
from .output import error_response, text_response
from .paging import batches, cursor, paged

MAX_VALUE_LENGTH = 1000
CHALLENGE = 'Bearer realm="gocdbpi", error="invalid_token"'


def check_level(caller, level, strict=False):
    """GOCDB's protection levels (§11.2): raises PIDenied with its message unless `caller` may call a
    method of `level`. Level 3 (personal data) takes a registered API credential of any site, or a user
    who may see personal data (egiportal.permissions.may_see_personal_data, the portal's one rule).
    `strict` is access_test's rule: an unregistered identifier never passes."""
    if level == PUBLIC:
        return
    if not caller.identifier:
        raise PIDenied("No valid identifier found. Try accessing the resource through the private interface.")
    if level == PROTECTED:
        return
    if caller.credential is not None:
        caller.credential.touch()
        return
    if caller.token is not None:
        caller.token.touch()
    restrict = settings.RESTRICT_PERSONAL_DATA
    if caller.user is not None:
        if permissions.may_see_personal_data(caller.user):
            return
        raise PIDenied("Authorisation required to read personal data (PROTECTED - Role required). ")
    if not restrict and not strict:
        return
    reason = "Role required" if restrict else "Registration required"
    raise PIDenied(f"Authorisation required to read personal data (PROTECTED - {reason}). ")


def check_params(method, params):
    for key in params:
        if key in ("apikey", "output", "method"):
            continue
        if key not in method.params:
            raise PIError(f"Unsupported parameter: {key}")
    for key, value in params.items():
        if any(ch in value for ch in "\"'`\x00"):
            raise PIError(f"Unsuported chracter in value: {value}")
        if len(value) > MAX_VALUE_LENGTH:
            raise PIError(f"Value of parameter {key} is longer than {MAX_VALUE_LENGTH} characters")


def replies(query, method):
    """The children of <results> for a checked query, as a lazy iterable."""
    next_cursor, prev_cursor = cursor(query, "next_cursor"), cursor(query, "prev_cursor")
    if next_cursor is not None and prev_cursor is not None:
        raise PIError("It is invalid to specify both 'next_cursor' and 'prev_cursor' parameters in the same query")
    result = method.func(query)
    if not isinstance(result, Listing):
        return result
    if method.pageable and (next_cursor is not None or prev_cursor is not None):
        meta, page = paged(query, result, next_cursor, prev_cursor)
        return [meta, *result.render(page)]
    return dbtimeout.streaming(el for batch in batches(result, paging.CHUNK) for el in result.render(batch))


@require_safe
def pi_view(request, methods):
    """`/gocdbpi/public/` and `/gocdbpi/private/`: answer `?method=NAME&...` (HTTP 200 even on errors)."""
    params = {key: request.GET.get(key) for key in request.GET}
    name = params.get("method", "")
    method = methods.get(name)
    if method is None:
        return text_response(f"Unable to find method: {name}")
    try:
        caller = identity.identify(request)
    except identity.TokenRefused as exc:
        return unauthorised(exc.message, CHALLENGE)
    except oidc.InvalidToken as exc:
        # As the front proxy of GOCDB's private interface (mod_auth_openidc) answers a bad bearer token.
        return unauthorised(str(exc), CHALLENGE)
    except oidc.LoginRefused as exc:
        return HttpResponse(str(exc), content_type="text/plain; charset=utf-8", status=403)
    except oidc.ProviderUnavailable as exc:
        return HttpResponse(str(exc), content_type="text/plain; charset=utf-8", status=503)
    query = Query(request, params, caller)
    try:
        check_params(method, params)
        check_level(query.caller, method.level, strict=name == "access_test")
        children = replies(query, method)
        root_attrs = query.extra.get("root_attrs")
        if isinstance(children, list):
            body = b"".join(document(children, root_attrs))
            return HttpResponse(body, content_type="application/xml")
        # Force the first batch now, so that a bad filter is still an error reply, then stream.
        children = iter(children)
        first = next(children, None)
        rest = children if first is None else _chain(first, children)
        return StreamingHttpResponse(document(rest, root_attrs), content_type="application/xml")
    except PIError as exc:
        return error_response(str(exc))
    except PIDenied as exc:
        return text_response(str(exc))


def _chain(first, rest):
    yield first
    yield from rest


def unauthorised(message, challenge):
    response = HttpResponse(message, content_type="text/plain; charset=utf-8", status=401)
    response["WWW-Authenticate"] = challenge
    return response

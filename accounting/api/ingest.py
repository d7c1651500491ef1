"""POST /api/v1/accounting/messages/: one APEL message body, as cASO writes it, from a site's
write-enabled API credential (accounting.md §4.3 A). Replies in JSON: 201 with what was stored, 200 for
a retry of a message id already stored, 400/413 with the reason (record number and field), 401/403.
"""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from egiportal import identity, oidc
from egiportal.errors import error_code

from .. import messages, services

STATUS = {"invalid": 400, "forbidden": 403, "conflict": 409, "not_found": 404}


def error(status, detail):
    return JsonResponse({"detail": detail}, status=status)


def read_body(request):
    """The body, or None when it is over the limit (read no further than one byte past it)."""
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > messages.MAX_BODY_BYTES:
        return None
    body = request.read(messages.MAX_BODY_BYTES + 1)
    return None if len(body) > messages.MAX_BODY_BYTES else body


@csrf_exempt  # no cookie is taken: only an API credential in the Authorization header or the proxy's DN
@require_POST
def messages_view(request):
    refusal = identity.foreign_origin_refusal(request)
    if refusal is not None:
        return error(*refusal)
    scheme, _value = identity.authorization(request)
    if scheme == "basic":
        return error(401, "Send the API credential's token as Authorization: Token <token> (or Bearer).")
    try:
        caller = identity.identify(request)
    except identity.TokenRefused as exc:
        return error(exc.status, exc.message)
    except (oidc.InvalidToken, oidc.LoginRefused) as exc:
        return error(401, str(exc))
    if caller.kind == identity.SESSION:
        return error(403, "Send accounting messages with your site's API credential, not a browser session.")
    body = read_body(request)
    if body is None:
        return error(413, f"A message may be at most {messages.MAX_BODY_BYTES} bytes.")
    try:
        sender = services.sender_for_credential(caller.credential)
        done = services.ingest(sender, body, message_id=request.headers.get("X-Message-Id", ""))
    except services.TooLarge as exc:
        return error(413, " ".join(exc.messages))
    except Exception as exc:
        code = error_code(exc)
        if code is None:
            raise
        return error(STATUS[code], " ".join(getattr(exc, "messages", [str(exc)])))
    reply = {
        "id": done.message.pk,
        "kind": done.message.kind,
        "records": done.stored,
        "site": done.message.site.short_name,
        "duplicate": done.duplicate,
    }
    return JsonResponse(reply, status=200 if done.duplicate else 201)

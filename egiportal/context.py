"""Per-request context (actor and request id) that services read when they write the audit log."""

import contextvars
import uuid
from contextlib import contextmanager

request_id = contextvars.ContextVar("request_id", default=None)
# How the current change reaches the portal when it is not the browser (e.g. "via the write API ...").
audit_note = contextvars.ContextVar("audit_note", default="")


@contextmanager
def noting(text):
    """Add `text` to the message of every audit row written inside the block."""
    token = audit_note.set(text)
    try:
        yield
    finally:
        audit_note.reset(token)


def current_request_id():
    """The id of the request being served, or a fresh one for work outside a request (commands, tasks)."""
    value = request_id.get()
    if value is None:
        value = uuid.uuid4()
        request_id.set(value)
    return value

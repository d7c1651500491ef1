"""Per-request context (actor and request id) that services read when they write the audit log."""

import contextvars
import uuid

request_id = contextvars.ContextVar("request_id", default=None)


def current_request_id():
    """The id of the request being served, or a fresh one for work outside a request (commands, tasks)."""
    value = request_id.get()
    if value is None:
        value = uuid.uuid4()
        request_id.set(value)
    return value

"""PostgreSQL's `statement_timeout` for web requests, so that no query holds a worker for minutes.

Web requests get DB_STATEMENT_TIMEOUT; the streamed unpaged PI replies, whose batches may be large,
DB_STREAM_STATEMENT_TIMEOUT while they stream. Celery workers and management commands never pass
through the middleware and keep the server's setting. Other databases are left alone.
"""

import logging

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection
from django.http import HttpResponse

logger = logging.getLogger(__name__)


def set_statement_timeout(seconds):
    """Set the connection's statement_timeout (0: none) through the raw cursor: it is not one of the
    request's queries (not logged nor counted)."""
    if connection.vendor != "postgresql":
        return
    try:
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [str(int(seconds * 1000))])
    except DatabaseError:
        pass  # the database is unreachable: the view meets that itself (and /healthz reports it)
    except Exception as exc:  # a raw driver error, e.g. an aborted transaction in a test
        logger.warning("statement_timeout not set: %s", exc)


def streaming(iterable):
    """Yield from `iterable` under the longer stream timeout, then go back to the web one.

    Not in a `finally`: a stream that is abandoned and collected later would then send a query from
    the garbage collector, possibly in the middle of another query on the same connection, which
    waits for itself for ever. The next request's middleware sets the web timeout again anyway."""
    set_statement_timeout(settings.DB_STREAM_STATEMENT_TIMEOUT)
    yield from iterable
    set_statement_timeout(settings.DB_STATEMENT_TIMEOUT)


def is_timeout(exc):
    """The database cancelled the statement (statement_timeout: SQLSTATE 57014)."""
    return isinstance(exc, OperationalError) and getattr(exc.__cause__, "sqlstate", None) == "57014"


class StatementTimeoutMiddleware:
    """Every web request runs under DB_STATEMENT_TIMEOUT; a statement cut by it answers 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        set_statement_timeout(settings.DB_STATEMENT_TIMEOUT)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_timeout(exception):
            return None
        logger.warning("Statement timeout on %s %s", request.method, request.get_full_path()[:300])
        message = "The database took too long to answer this request; narrow it down or try again later."
        return HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")

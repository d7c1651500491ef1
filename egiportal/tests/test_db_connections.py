"""Kept database connections (DB_CONN_MAX_AGE > 0) are checked before a request uses them: a connection
that the server closed in between (a restart, a failover, an idle timeout) is replaced, not a failed
request."""

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import RequestFactory

from conftest import require_or_skip, shared_database_url


def wsgi_get(path):
    """A request through Django's WSGI handler as a server runs it (with the request_started and
    request_finished signals that open and keep connections, which the test client turns off)."""
    environ = RequestFactory().get(path).environ
    statuses = []
    response = WSGIHandler()(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(response)
    response.close()
    return int(statuses[0].split()[0])


@pytest.fixture
def kept_connections():
    """This process's connection kept for a minute, as with DB_CONN_MAX_AGE=60 (read when it connects)."""
    require_or_skip(connection.vendor == "postgresql", "needs PostgreSQL (DATABASE_URL)")
    saved = connection.settings_dict["CONN_MAX_AGE"]
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = 60
    yield
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = saved


@pytest.mark.django_db(transaction=True)
def test_a_terminated_kept_connection_does_not_fail_the_next_request(kept_connections):
    assert wsgi_get("/sites/") == 200
    with connection.cursor() as cursor:  # still the kept connection: the request did not close it
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with psycopg.connect(shared_database_url(connection.settings_dict), autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)

    assert wsgi_get("/sites/") == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid

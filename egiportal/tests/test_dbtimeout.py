"""PostgreSQL's statement_timeout cuts a slow web request with an error instead of holding the worker;
streamed unpaged PI replies get the longer timeout; code outside requests keeps the server's."""

import gc
import time

import pytest
from django.db import connection, transaction
from django.http import HttpResponse
from django.urls import include, path

from conftest import require_or_skip
from sites.tests.factories import SiteFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def sleep_view(request):
    with transaction.atomic(), connection.cursor() as cursor:  # a savepoint keeps the test's transaction usable
        cursor.execute("SELECT pg_sleep(%s)", [float(request.GET["seconds"])])
    return HttpResponse("slept")


urlpatterns = [path("test-sleep/", sleep_view), path("", include("egiportal.urls"))]


def current_timeout():
    with connection.connection.cursor() as cursor:  # raw: not one of the recorded queries
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


@pytest.fixture(autouse=True)
def postgresql():
    require_or_skip(connection.vendor == "postgresql", "statement_timeout is PostgreSQL's")


def test_a_slow_request_is_cut_with_an_error(client, settings):
    settings.DB_STATEMENT_TIMEOUT = 0.3
    started = time.monotonic()
    response = client.get("/test-sleep/", {"seconds": 5})
    assert time.monotonic() - started < 3
    assert response.status_code == 503 and b"took too long" in response.content
    assert current_timeout() == "300ms"
    assert client.get("/test-sleep/", {"seconds": 0.01}).content == b"slept"  # a quick one is not cut


def test_streamed_pi_reply_runs_under_the_longer_timeout(client, settings):
    settings.DB_STATEMENT_TIMEOUT, settings.DB_STREAM_STATEMENT_TIMEOUT = 2, 30
    SiteFactory.create_batch(3)
    seen = []

    def record(execute, sql, params, many, context):
        if "sites_site" in sql:
            seen.append(current_timeout())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = client.get("/gocdbpi/public/", {"method": "get_site_list"})
        assert response.streaming
        body = b"".join(response.streaming_content)
    assert body.count(b"<SITE ") == 3
    assert seen and set(seen) == {"30s"}
    assert current_timeout() == "2s"  # back to the web timeout once streamed
    with connection.execute_wrapper(record):
        seen.clear()
        client.get("/sites/")
    assert set(seen) == {"2s"}


def test_an_abandoned_stream_sends_no_query_when_it_is_collected(client, settings):
    """A client that goes away leaves the reply's generator to the garbage collector, which may run at
    any allocation, inside another query on the same connection: a query from there waits for itself
    for ever (it hung the test run). The next request sets the web timeout instead."""
    settings.DB_STATEMENT_TIMEOUT, settings.DB_STREAM_STATEMENT_TIMEOUT = 2, 30
    SiteFactory.create_batch(3)
    response = client.get("/gocdbpi/public/", {"method": "get_site_list"})
    stream = iter(response.streaming_content)
    next(stream)
    assert current_timeout() == "30s"
    del stream, response
    gc.collect()
    assert current_timeout() == "30s"  # nothing was sent from the collector
    client.get("/sites/")
    assert current_timeout() == "2s"


def test_outside_requests_the_server_setting_holds(settings):
    """Celery tasks and management commands are not web requests: a fresh connection is not limited."""
    settings.DB_STATEMENT_TIMEOUT = 0.3
    connection.ensure_connection()
    assert current_timeout() != "300ms"

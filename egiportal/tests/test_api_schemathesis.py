"""Schemathesis against the live OpenAPI schema of /api/v1/: every operation (writes included, with a
portal administrator's write-enabled API token) gets generated requests, and every reply must be no
server error, carry a documented status code and conform to the documented schema.

The schema is loaded from the application itself (WSGI, in-process), so what is tested is what is
served. Each test seeds a small federation so that reads return rows and writes meet real objects.
"""

import os

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from egiportal import services
from egiportal.tests.factories import UserFactory
from sites.models import Scope, Site
from sites.tests.factories import NGIFactory, ProjectFactory, SiteFactory, egi_scope

# Generated requests per operation, and the seed: fixed, so a CI run is reproducible; set
# SCHEMATHESIS_EXAMPLES / SCHEMATHESIS_SEED for a longer or different search.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "10"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20261122"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

# Fuzzing (valid and invalid requests) only: the coverage phase sends hundreds of boundary cases per
# operation, far over the time budget; the schema has no examples, and stateful runs are a separate tool.
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "phases": {"coverage": {"enabled": False}, "examples": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
# Not egiportal.wsgi: that module freezes the garbage collector, which a test process should not do.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application(), config=CONFIG)


@pytest.fixture
def in_test_transaction():
    """Keep the test's connection across requests: WSGIHandler closes connections when a request ends,
    which in a test transaction would close it (Django's test client disconnects the same handlers)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(settings, in_test_transaction):
    """A seeded federation and the secret of a portal administrator's write-enabled token."""
    settings.API_RATE_LIMIT = ""  # thousands of requests: the rate limit has its own tests
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "fuzz"}}
    cache.clear()
    admin = UserFactory(username="fuzz-admin", is_superuser=True, is_staff=True)
    project = ProjectFactory(name="EGI-FUZZ")
    wlcg = Scope.objects.get_or_create(name="wlcg", defaults={"description": "WLCG"})[0]
    for n in range(3):
        ngi = NGIFactory(name=f"NGI_FUZZ{n}", scopes=[egi_scope(), wlcg])
        ngi.projects.add(project)
        for m in range(3):
            site = SiteFactory(short_name=f"FUZZ-{n}-{m}", ngi=ngi)
            site.properties.create(key="tier", value=str(m))
    _, secret = services.create_api_token(admin, "schemathesis", write_enabled=True)
    return secret


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db
def test_api(case, token):
    headers = {"Authorization": f"Token {token}"}
    # The test's transaction is rolled back at its end (much faster than flushing on PostgreSQL); each
    # request gets a savepoint, so a database error in one cannot abort the requests after it.
    with transaction.atomic():
        response = case.call(headers=headers)
    case.validate_response(response, checks=CHECKS, headers=headers)


# ---------------------------------------------------------------- what the fuzzing found, pinned
# Each was a 500 (on SQLite, PostgreSQL or both); each is now a documented 4xx or a reply.

HUGE = 10**30


@pytest.fixture
def api(token):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        f"id={HUGE}",
        f"id__in=1,{HUGE}",
        f"ngi_id={HUGE}",
        f"scopes_id={HUGE}",
        "property=%00",
        "ngi=NGI_FUZZ0%00",
        "created__lt=0001-01-01T00:00:00%2B01:00",
    ],
)
def test_hostile_filters_are_refused(api, query):
    response = api.get(f"/api/v1/sites/?{query}")
    assert response.status_code == 400, response.content
    assert set(response.json()) == {query.split("=")[0]}


@pytest.mark.django_db
def test_filter_date_times_with_any_offset(api):
    """ISO 8601 allows offsets PostgreSQL does not (over ±15:59): they are compared in UTC."""
    response = api.get("/api/v1/sites/?created__lt=2000-01-01T00:00:00%2B21:53&created__gt=1999-01-01T00:00:00-23:00")
    assert response.status_code == 200 and response.json()["count"] == 0
    assert api.get("/api/v1/sites/?created__gt=1999-01-01T00:00:00-23:00").json()["count"] == 9


@pytest.mark.django_db
def test_nul_in_an_object_reference_is_a_400(api):
    """An object-style reference is a lookup by field values: PostgreSQL refuses NUL in one (a DataError)."""
    site = Site.objects.get(short_name="FUZZ-0-0")
    body = {"parent": {"short_name": site.short_name.replace("-", "\x00", 1) + "\x00"}, "key": "k", "value": "v"}
    response = api.post("/api/v1/site-properties/", body, format="json")
    assert response.status_code == 400 and "No site matches" in response.json()["parent"][0]
    assert not site.properties.filter(key="k").exists()


@pytest.mark.django_db
def test_ids_past_64_bits_are_not_found(api):
    assert api.get(f"/api/v1/ngis/{HUGE}/").status_code == 404
    response = api.delete("/api/v1/scopes/", [{"id": HUGE}, {"id": -1}], format="json")
    assert response.status_code == 404 and str(HUGE) in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("ngi", [HUGE, "³", "NGI\x00", {"id": HUGE}, {"name": "NGI\x00FUZZ"}, {"NGI\x00": "x"}])
def test_related_objects_that_cannot_exist(api, ngi):
    site = {"name": "FUZZ-NEW", "ngi": ngi, "country": "NL", "description": "x", "domain": "example.org"}
    response = api.post("/api/v1/sites/", {**site, "email": "a@example.org", "telephone": "123"}, format="json")
    assert response.status_code == 400
    assert "No NGI matches" in response.json()["ngi"][0]


@pytest.mark.django_db
def test_ngis_have_no_property_filter(api):
    assert api.get("/api/v1/ngis/?property=tier").json() == {"property": "Unknown filter."}


@pytest.mark.django_db
@pytest.mark.parametrize("rendering", ["csv", "xml"])
def test_empty_replies_in_other_renderings(api, rendering):
    scope = Scope.objects.create(name=f"fuzz-{rendering}", description="to delete")
    response = api.delete(f"/api/v1/scopes/{scope.pk}/?format={rendering}")
    assert response.status_code == 204 and response.content == b""
    assert not Scope.objects.filter(pk=scope.pk).exists()

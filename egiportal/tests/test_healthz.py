"""/healthz reports database, cache and broker states as JSON: "ok" or "down" for everybody, 503 when one
is down, and the detail (what runs, or the error text) for administrators only."""

import pytest
from django.test import override_settings

from conftest import require_or_skip
from egiportal.tests.factories import UserFactory

PARTS = ("database", "cache", "broker")
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1
DEAD_CACHE = {"default": {"BACKEND": "egiportal.caching.FailOpenRedisCache", "LOCATION": DEAD_REDIS}}


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="healthz-admin", is_staff=True))
    return client


@pytest.fixture
def fresh_outage(monkeypatch):
    """This test's own record of a Redis outage (none yet)."""
    from egiportal import caching

    monkeypatch.setattr(caching, "outage", caching._Outage())
    return caching.outage


@pytest.mark.django_db
def test_healthz_reports_every_part_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_administrators_also_see_what_runs(admin_client):
    data = admin_client.get("/healthz").json()
    assert data["status"] == "ok" and all(data[part] == "ok" for part in PARTS)
    assert data["detail"]["database"] in ("sqlite", "postgresql")
    assert data["detail"]["cache"].startswith(("django.core.cache.", "egiportal.caching."))
    assert data["detail"]["broker"] in ("eager", "redis")


@pytest.mark.django_db
def test_healthz_is_public_and_read_only(client):
    assert client.post("/healthz").status_code in (200, 405)
    assert client.get("/healthz").json()["status"] == "ok"


def _with_dead_broker(client):
    from egiportal.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = DEAD_REDIS
    try:
        with override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=DEAD_REDIS):
            return client.get("/healthz")
    finally:
        app.conf.broker_url = original


@pytest.mark.django_db
def test_a_broken_broker_is_503_with_states_only_for_anonymous(client):
    response = _with_dead_broker(client)
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "cache": "ok", "broker": "down"}
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_a_broken_broker_is_explained_to_administrators(admin_client):
    response = _with_dead_broker(admin_client)
    assert response.status_code == 503
    data = response.json()
    assert data["broker"] == "down" and "127.0.0.1:1" in data["detail"]["broker"]


@pytest.mark.django_db
def test_an_unreachable_cache_is_503_and_only_administrators_see_why(client, settings, fresh_outage):
    settings.CACHES = DEAD_CACHE
    anonymous = client.get("/healthz")
    assert anonymous.status_code == 503
    assert anonymous.json() == {"status": "error", "database": "ok", "cache": "down", "broker": "ok"}
    assert "127.0.0.1" not in anonymous.content.decode() and "6379" not in anonymous.content.decode()

    client.force_login(UserFactory(username="healthz-admin", is_superuser=True, is_staff=True))
    detail = client.get("/healthz").json()["detail"]
    assert "127.0.0.1:1" in detail["cache"] or "Connection refused" in detail["cache"], detail
    assert detail["database"] in ("sqlite", "postgresql")


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_is_down_without_its_name(client):
    """(Administrators cannot be recognised then: their sessions are in the database.)"""
    from django.db import connection

    require_or_skip(connection.vendor == "postgresql", "needs PostgreSQL (DATABASE_URL)")
    saved = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = "secret_missing_db"
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict["NAME"] = saved
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "down", "cache": "ok", "broker": "ok"}
    assert "secret_missing_db" not in response.content.decode()

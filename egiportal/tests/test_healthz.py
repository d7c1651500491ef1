"""/healthz reports database, cache and broker status as JSON."""

import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_reports_every_part_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert data["status"] == "ok"
    for part in ("database", "cache", "broker"):
        assert data[part]["ok"] is True, data
    assert data["database"]["vendor"] in ("sqlite", "postgresql")


@pytest.mark.django_db
def test_healthz_is_public_and_read_only(client):
    assert client.post("/healthz").status_code in (200, 405)
    assert client.get("/healthz").json()["status"] == "ok"


@pytest.mark.django_db
@override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_healthz_reports_a_broken_broker_as_503(client, settings):
    from egiportal.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    data = response.json()
    assert data["status"] == "error" and data["broker"]["ok"] is False and data["database"]["ok"] is True

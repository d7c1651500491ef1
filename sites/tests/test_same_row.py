"""The site defaults of the write path give the same row from the browser form and the REST API (the
GOCDB write API does not write site fields)."""

import pytest
from django.urls import reverse

from egiportal.api.testcases import api
from sites.models import Site
from sites.tests.factories import NGIFactory, user_with
from sites.tests.test_site_views import site_data

pytestmark = pytest.mark.django_db


def test_the_alarm_email_is_the_emergency_email_in_the_browser_and_the_api(client):
    ngi = NGIFactory()
    client.force_login(user_with("NGI_OPS_MAN", ngi))
    assert client.post(reverse("sites:site_add"), site_data(ngi, short_name="BROWSER")).status_code == 302
    body = {
        "short_name": "REST",
        "name": "REST",
        "official_name": "Through the API",
        "description": "Through the API",
        "email": "ops@rest.example.org",
        "telephone": "+31 20 555 0000",
        "ngi": ngi.pk,
        "country": "NL",
        "domain": "rest.example.org",
        "emergency_email": "alarm@new.example.org",
        "scopes": ["EGI"],
    }
    reply = api(client, "POST", "/api/v1/sites/", body)
    assert reply.status_code == 201, reply.content
    rows = dict(Site.objects.filter(ngi=ngi).values_list("short_name", "alarm_email"))
    assert rows == {"BROWSER": "alarm@new.example.org", "REST": "alarm@new.example.org"}
    # An edit through the API moves the alarm e-mail with the emergency e-mail.
    rest = Site.objects.get(short_name="REST")
    assert api(client, "PATCH", f"/api/v1/sites/{rest.pk}/", {"emergency_email": "911@example.org"}).status_code == 200
    rest.refresh_from_db()
    assert rest.alarm_email == "911@example.org"

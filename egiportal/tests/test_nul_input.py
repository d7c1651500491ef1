"""A NUL character in any filter of any list (browser and REST) is a 400 with a reason, never a 500: PostgreSQL
refuses NUL in text (run with DATABASE_URL set to PostgreSQL as well as on SQLite)."""

import pytest
from django.urls import reverse

from egiportal.tests.factories import UserFactory
from endpoints.tests.factories import DowntimeFactory

pytestmark = pytest.mark.django_db

LISTS = [
    "sites:project_list",
    "sites:ngi_list",
    "sites:site_list",
    "sites:scope_list",
    "endpoints:service_list",
    "endpoints:endpoint_list",
    "endpoints:servicetype_list",
    "endpoints:servicegroup_list",
    "endpoints:downtime_list",
    "changes",
]


@pytest.mark.parametrize("name", LISTS)
def test_nul_in_any_filter_of_a_list_page_is_a_form_error(client, name):
    DowntimeFactory()
    client.force_login(UserFactory(is_superuser=True))
    url = reverse(name)
    fields = list(client.get(url).context["filterset"].form.fields)
    assert "q" in fields
    for field in fields:
        response = client.get(url, {field: "a\x00b"})
        assert response.status_code == 400, (url, field)
        assert "Null characters are not allowed." in response.context["filterset"].form.errors[field], (url, field)
    response = client.get(url, {"x\x00": "1"})
    assert response.status_code == 400 and "Null characters in" in response.content.decode()


@pytest.mark.parametrize(
    "path, query",
    [
        ("/api/v1/sites/", "property=a%00b"),
        ("/api/v1/sites/", "q=%00"),
        ("/api/v1/services/", "property=%00"),
        ("/api/v1/downtimes/", "site_property=a%00"),
        ("/api/v1/changes/", "q=x%00"),
    ],
)
def test_nul_in_a_rest_filter_is_a_400(client, path, query):
    DowntimeFactory()
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400, (path, query)
    assert response.json() == {query.split("=")[0]: ["Null characters are not allowed."]}

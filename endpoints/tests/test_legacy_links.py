"""Old GOCDB portal links redirect permanently to the matching page; unknown types and ids are 404."""

import pytest
from django.urls import reverse

from egiportal.tests.factories import UserFactory
from endpoints.tests.factories import DowntimeFactory, ServiceFactory, ServiceGroupFactory
from sites.tests.factories import NGIFactory, SiteFactory

pytestmark = pytest.mark.django_db

LINK = "/portal/index.php"


@pytest.mark.parametrize(
    "page_type, factory, url_name",
    [
        ("Site", SiteFactory, "sites:site"),
        ("NGI", NGIFactory, "sites:ngi"),
        ("Service", ServiceFactory, "endpoints:service"),
        ("Downtime", DowntimeFactory, "endpoints:downtime"),
        ("Service_Group", ServiceGroupFactory, "endpoints:servicegroup"),
    ],
)
def test_gocdb_links_redirect_permanently_to_the_page(client, page_type, factory, url_name):
    obj = factory()
    response = client.get(LINK, {"Page_Type": page_type, "id": str(obj.pk)})
    assert response.status_code == 301
    assert response["Location"] == reverse(url_name, args=[obj.pk])
    assert client.get(response["Location"]).status_code == 200
    assert client.get(LINK, {"Page_Type": page_type, "id": str(obj.pk + 1000)}).status_code == 404


def test_user_links_lead_to_ones_own_profile_only(client):
    user = UserFactory()
    assert client.get(LINK, {"Page_Type": "User", "id": str(user.pk)}).status_code == 404
    client.force_login(user)
    response = client.get(LINK, {"Page_Type": "User", "id": str(user.pk)})
    assert response.status_code == 302 and response["Location"] == reverse("profile")
    assert client.get(LINK, {"Page_Type": "User", "id": str(UserFactory().pk)}).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"Page_Type": "Site"},
        {"Page_Type": "Site", "id": ""},
        {"Page_Type": "Site", "id": "-1"},
        {"Page_Type": "Site", "id": "7 OR 1=1"},
        {"Page_Type": "Site", "id": "9" * 30},
        {"Page_Type": "Site", "id": "99999999999999999999"},
        {"Page_Type": "Site", "id": "\x00"},
        {"Page_Type": "Nonsense", "id": "1"},
        {"Page_Type": "Site_Properties", "id": "1"},
    ],
)
def test_malformed_or_unknown_links_are_404(client, query):
    SiteFactory()
    assert client.get(LINK, query).status_code == 404


def test_only_reads_are_redirected(client):
    site = SiteFactory()
    assert client.post(f"{LINK}?Page_Type=Site&id={site.pk}").status_code == 405

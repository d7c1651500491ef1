import pytest
from django.urls import reverse

from egiportal.tests.factories import UserFactory
from sites.tests.factories import SiteFactory, grant


@pytest.mark.django_db
def test_site_pages_render(client):
    site = SiteFactory()
    assert client.get(reverse("sites:site_list")).status_code == 200
    assert client.get(site.get_absolute_url()).status_code == 200
    user = UserFactory()
    grant(user, "SITE_ADMIN", site)
    client.force_login(user)
    response = client.get(reverse("sites:site_edit", args=[site.pk]))
    assert response.status_code == 200

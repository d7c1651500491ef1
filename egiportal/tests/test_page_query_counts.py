"""Every list and detail page answers with a fixed number of queries, whatever the number of rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from egiportal import services
from egiportal.tests.factories import UserFactory
from endpoints.tests.factories import DowntimeFactory, EndpointFactory, ServiceFactory, ServiceGroupFactory
from sites.tests.factories import ProjectFactory, SiteFactory, grant

pytestmark = pytest.mark.django_db
# The site page is the largest: its own 20, and the accounting panel (the usage pivot, the last messages).
MAX_QUERIES = 22


def grow(site, n):
    """n more services at `site`, each with an endpoint, a property, a downtime and a group membership."""
    group = ServiceGroupFactory()
    for _ in range(n):
        service = ServiceFactory(site=site)
        service.properties.create(key="k", value="v")
        EndpointFactory(service=service).properties.create(key="k", value="v")
        DowntimeFactory(service=service)
        group.services.add(service)
        SiteFactory(ngi=site.ngi)
    services.set_properties(UserFactory(is_superuser=True), site, [(f"key{n}", "v")])


def pages(site):
    service = site.services.first()
    downtime = site.downtimes.first()
    group = service.service_groups.first()
    scope = site.scopes.first()
    project = site.ngi.projects.first()
    return {
        "project list": reverse("sites:project_list"),
        "project": project.get_absolute_url(),
        "NGI list": reverse("sites:ngi_list"),
        "NGI": site.ngi.get_absolute_url(),
        "site list": reverse("sites:site_list"),
        "site": site.get_absolute_url(),
        "site history": reverse("sites:site_history", args=[site.pk]),
        "scope list": reverse("sites:scope_list"),
        "scope": scope.get_absolute_url(),
        "service list": reverse("endpoints:service_list"),
        "service": service.get_absolute_url(),
        "endpoint list": reverse("endpoints:endpoint_list"),
        "endpoint": service.endpoints.first().get_absolute_url(),
        "service type list": reverse("endpoints:servicetype_list"),
        "service type": service.service_type.get_absolute_url(),
        "service group list": reverse("endpoints:servicegroup_list"),
        "service group": group.get_absolute_url(),
        "downtime list": reverse("endpoints:downtime_list"),
        "downtime": downtime.get_absolute_url(),
        "change list": reverse("changes"),
        "my roles": reverse("sites:my_roles"),
        "role requests": reverse("sites:role_requests"),
    }


def count_queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


@pytest.mark.parametrize("as_manager", [False, True], ids=["anonymous", "NGI manager"])
def test_query_counts_do_not_grow_with_rows(client, as_manager):
    site = SiteFactory()
    ProjectFactory().ngis.add(site.ngi)
    grow(site, 2)
    if as_manager:
        manager = UserFactory()
        grant(manager, "NGI_OPS_MAN", site.ngi)
        client.force_login(manager)
    urls = pages(site)
    if not as_manager:  # these two pages are for logged-in users only
        urls.pop("my roles"), urls.pop("role requests")
    few = {name: count_queries(client, url) for name, url in urls.items()}
    grow(site, 15)
    many = {name: count_queries(client, url) for name, url in urls.items()}
    assert many == few
    assert max(many.values()) <= MAX_QUERIES, many

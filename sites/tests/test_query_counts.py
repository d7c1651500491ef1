"""List and detail pages run a fixed number of queries, whatever the number of rows (no N+1)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from egiportal import audit
from egiportal.tests.factories import UserFactory
from endpoints.tests.factories import DowntimeFactory, EndpointFactory, ServiceFactory
from sites.models import Scope
from sites.tests.factories import NGIFactory, ProjectFactory, SiteFactory, grant

pytestmark = pytest.mark.django_db

MAX_QUERIES = 25


def count(client, url, **params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def grow(ngi, project, scopes, n):
    """Add `n` sites with services, endpoints, properties, downtimes and audit rows to `ngi`."""
    admin = UserFactory(is_superuser=True)
    for _ in range(n):
        site = SiteFactory(ngi=ngi, scopes=scopes)
        site.properties.create(key="k", value="v")
        service = ServiceFactory(site=site, scopes=scopes)
        EndpointFactory(service=service)
        service.properties.create(key="k", value="v")
        DowntimeFactory(service=service)
        audit.record(admin, "update", site, {"description": "a"}, {"description": "b"})
    for _ in range(n):
        other = NGIFactory(scopes=scopes)
        project.ngis.add(other)
        ProjectFactory()


@pytest.fixture
def world():
    scopes = list(Scope.objects.filter(name__in=["EGI", "Local"]))
    ngi = NGIFactory(scopes=scopes)
    project = ProjectFactory()
    project.ngis.add(ngi)
    site = SiteFactory(ngi=ngi, scopes=scopes)
    return ngi, project, site, scopes


PAGES = [
    ("site list", lambda w: (reverse("sites:site_list"), {})),
    (
        "site list filtered",
        lambda w: (reverse("sites:site_list"), {"scope": "EGI", "property": "k=v", "ngi": w[0].name}),
    ),
    ("NGI list", lambda w: (reverse("sites:ngi_list"), {})),
    ("project list", lambda w: (reverse("sites:project_list"), {})),
    ("scope list", lambda w: (reverse("sites:scope_list"), {})),
    ("site detail", lambda w: (w[2].get_absolute_url(), {})),
    ("NGI detail", lambda w: (w[0].get_absolute_url(), {})),
    ("project detail", lambda w: (w[1].get_absolute_url(), {})),
    ("scope detail", lambda w: (Scope.objects.get(name="EGI").get_absolute_url(), {})),
    ("site history", lambda w: (reverse("sites:site_history", args=[w[2].pk]), {})),
    ("change list", lambda w: (reverse("changes"), {})),
]


@pytest.mark.parametrize("as_role", [False, True], ids=["anonymous", "ngi-manager"])
@pytest.mark.parametrize("name, target", PAGES, ids=[p[0] for p in PAGES])
def test_query_count_is_fixed(client, django_assert_max_num_queries, world, name, target, as_role):
    ngi, project, site, scopes = world
    if as_role:
        user = UserFactory()
        grant(user, "NGI_OPS_MAN", ngi)
        client.force_login(user)
    # The site of the detail page gets services of its own too.
    grow(ngi, project, scopes, 2)
    ServiceFactory(site=site, scopes=scopes)
    url, params = target(world)
    few = count(client, url, **params)
    grow(ngi, project, scopes, 12)
    for _ in range(5):
        service = ServiceFactory(site=site, scopes=scopes)
        EndpointFactory(service=service)
        DowntimeFactory(service=service)
        site.properties.create(key=f"extra{service.pk}", value="v")
    many = count(client, url, **params)
    assert few == many, f"{name}: {few} queries with few rows, {many} with many"
    with django_assert_max_num_queries(MAX_QUERIES):
        client.get(url, params)

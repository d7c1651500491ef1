"""REST API of projects, NGIs, sites and scopes: the generic tests, plus what is particular to sites."""

import pytest

from egiportal.api.testcases import APIModelTests, api
from egiportal.tests.factories import UserFactory
from sites.choices import RoleType
from sites.models import NGI, Project, Scope, Site
from sites.tests.factories import NGIFactory, ProjectFactory, SiteFactory, egi_scope, user_with

BRIEF = ["display", "id", "name", "url"]


class AdminOnly:
    """Reference data: written by portal administrators only."""

    def allowed_user(self, obj):
        return UserFactory(is_superuser=True)

    def other_user(self, obj):
        return user_with(RoleType.SITE_ADMIN, SiteFactory())


class TestProjectAPI(AdminOnly, APIModelTests):
    model = Project
    path = "/api/v1/projects/"
    brief_fields = BRIEF
    update_data = {"description": "Changed by the API"}

    def make(self):
        return ProjectFactory()

    def create_data(self):
        return {"name": "NEWPROJECT", "description": "From the API"}, UserFactory(is_superuser=True)


class TestNGIAPI(AdminOnly, APIModelTests):
    model = NGI
    path = "/api/v1/ngis/"
    brief_fields = BRIEF
    update_data = {"description": "Changed by the API"}

    def make(self):
        return NGIFactory()

    def create_data(self):
        body = {"name": "NGI_NEW", "description": "From the API", "scopes": ["EGI"]}
        return body, UserFactory(is_superuser=True)


class TestScopeAPI(AdminOnly, APIModelTests):
    model = Scope
    path = "/api/v1/scopes/"
    brief_fields = BRIEF
    update_data = {"description": "Changed by the API"}

    def make(self):
        return Scope.objects.create(name=f"scope{Scope.objects.count() + 1}")

    def create_data(self):
        return {"name": "newscope", "description": "From the API"}, UserFactory(is_superuser=True)


class TestSiteAPI(APIModelTests):
    model = Site
    path = "/api/v1/sites/"
    brief_fields = BRIEF
    update_data = {"description": "Changed by the API"}

    def make(self):
        return SiteFactory()

    def allowed_user(self, site):
        return user_with(RoleType.SITE_ADMIN, site)

    def other_user(self, site):
        return user_with(RoleType.SITE_ADMIN, SiteFactory())

    def create_data(self):
        ngi = NGIFactory()
        body = {
            "name": "API-SITE",
            "ngi": ngi.name,
            "country": "NL",
            "description": "Made through the API",
            "domain": "api.example.org",
            "email": "ops@api.example.org",
            "telephone": "+31 20 555 0000",
            "scopes": ["EGI"],
        }
        return body, user_with(RoleType.NGI_OPS_MAN, ngi)


@pytest.mark.django_db
def test_site_filters_match_the_browser_ones(client):
    egi_scope()
    local = Scope.objects.get_or_create(name="Local")[0]
    both = SiteFactory(scopes=[egi_scope(), local])
    SiteFactory(scopes=[egi_scope()])
    both.properties.create(key="wlcg.tier", value="2")
    rows = api(client, "GET", "/api/v1/sites/?scope=EGI&scope=Local&property=wlcg.tier=2").json()["results"]
    assert [r["id"] for r in rows] == [both.pk]
    assert rows[0]["properties"] == {"wlcg.tier": "2"}
    assert {s["name"] for s in rows[0]["scopes"]} == {"EGI", "Local"}


@pytest.mark.django_db
def test_site_write_refuses_bad_values_with_reasons_and_saves_nothing(client):
    site = SiteFactory()
    admin = user_with(RoleType.SITE_ADMIN, site)
    reply = api(client, "PATCH", f"/api/v1/sites/{site.pk}/", {"email": "not an address", "ngi": "NO_SUCH"}, user=admin)
    assert reply.status_code == 400
    assert "ngi" in reply.json()
    reply = api(client, "PATCH", f"/api/v1/sites/{site.pk}/", {"email": "x" * 300}, user=admin)
    assert reply.status_code == 400 and "email" in reply.json()
    reply = api(client, "PATCH", f"/api/v1/sites/{site.pk}/", {"latitude": 123}, user=admin)
    assert reply.status_code == 400 and "latitude" in reply.json()
    reply = api(client, "PATCH", f"/api/v1/sites/{site.pk}/", {"timezone": "Mars/Olympus"}, user=admin)
    assert reply.status_code == 400 and "not an IANA time zone" in reply.json()["timezone"][0]
    SiteFactory(short_name="TAKEN-SITE")
    reply = api(client, "PATCH", f"/api/v1/sites/{site.pk}/", {"name": "taken-site"}, user=admin)
    assert reply.status_code == 400 and "in another case exists already" in reply.content.decode()
    site.refresh_from_db()
    assert site.latitude is None and site.timezone != "Mars/Olympus" and site.short_name != "taken-site"


@pytest.mark.django_db
def test_related_objects_by_name_or_id(client):
    site = SiteFactory()
    other = NGIFactory()
    admin = UserFactory(is_superuser=True)
    assert (
        api(client, "PATCH", f"/api/v1/sites/{site.pk}/", {"ngi": other.pk}, user=admin).json()["ngi"]["id"] == other.pk
    )
    reply = api(client, "PATCH", f"/api/v1/sites/{site.pk}/", {"ngi": {"name": site.ngi.name}}, user=admin)
    assert reply.json()["ngi"]["name"] == site.ngi.name
    probe = api(client, "PATCH", f"/api/v1/sites/{site.pk}/", {"ngi": {"name__startswith": "N"}}, user=admin)
    assert probe.status_code == 400


@pytest.mark.django_db
def test_unknown_field_names_are_400_and_name_filters_sites(client):
    site = SiteFactory()
    reply = api(client, "GET", f"/api/v1/sites/{site.pk}/?fields=id,nope")
    assert reply.status_code == 400 and "nope" in reply.json()["fields"]
    assert api(client, "GET", "/api/v1/sites/?omit=bogus").status_code == 400
    rows = api(client, "GET", f"/api/v1/sites/?name={site.short_name}").json()["results"]
    assert [r["id"] for r in rows] == [site.pk]

"""The generic browser-view tests (egiportal.testcases.ViewModelTests) for every routed page of the
sites app: who reads and who changes projects, NGIs, sites and scopes, and fixed query counts."""

import pytest

from egiportal import permissions
from egiportal.testcases import AddCase, ViewModelTests
from egiportal.tests.factories import UserFactory
from sites.choices import EntityKind
from sites.models import NGI, Project, Scope, Site
from sites.roles import MAPPING, NGI_ROLES, SITE_ROLES
from sites.tests.factories import NGIFactory, ProjectFactory, ScopeFactory, SiteFactory, user_with
from sites.tests.test_site_views import site_data


class TestProjectViews(ViewModelTests):
    model = Project
    factory = ProjectFactory
    list_url, detail_url, history_url = "sites:project_list", "sites:project", "sites:project_history"


class TestNGIViews(ViewModelTests):
    model = NGI
    factory = NGIFactory
    list_url, detail_url, history_url = "sites:ngi_list", "sites:ngi", "sites:ngi_history"


class TestScopeViews(ViewModelTests):
    model = Scope
    factory = ScopeFactory
    list_url, detail_url = "sites:scope_list", "sites:scope"


class TestSiteViews(ViewModelTests):
    model = Site
    factory = SiteFactory
    list_url, detail_url, history_url = "sites:site_list", "sites:site", "sites:site_history"
    add_url, edit_url, delete_url = "sites:site_add", "sites:site_edit", "sites:site_delete"
    edit_changes = {"description": "Changed description", "telephone": "+31 20 999"}

    def allowed_user(self, obj):
        return user_with("SITE_ADMIN", obj)

    def other_owner(self, obj):
        return user_with("SITE_ADMIN", SiteFactory())

    def delete_user(self, obj):
        return UserFactory(is_superuser=True)  # only portal administrators delete sites

    def add_case(self):
        ngi = NGIFactory()
        # Another NGI's manager may add sites, but not to this NGI: it is not a choice of the form (400).
        other = user_with("NGI_OPS_MAN", NGIFactory())
        return AddCase(site_data(ngi), user_with("NGI_OPS_MAN", ngi), other_owner=other, other_owner_status=400)


class TestSitesAsIfPrivate(TestSiteViews):
    """The site pages as if sites were private, visible only to those holding a role over them: every
    generic view (list, detail, history, edit, delete) asks the one permission question, so an outsider's
    list lacks the row and each page of it answers 404, while the role holder works as before."""

    private = True

    @pytest.fixture(autouse=True)
    def sites_are_private(self, monkeypatch):
        monkeypatch.setattr(Site, "public", False)
        monkeypatch.setitem(MAPPING, (permissions.VIEW, EntityKind.SITE), SITE_ROLES | NGI_ROLES)

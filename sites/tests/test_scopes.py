"""Scope rules of specs/gocdb.md §8 on sites, and the scope pages."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory
from endpoints.tests.factories import ServiceFactory
from sites import services
from sites.models import Scope, Site
from sites.tests.factories import NGIFactory, SiteFactory, grant
from sites.tests.test_site_views import edit_data, site_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def egi():
    return Scope.objects.get(name="EGI")


@pytest.fixture
def local():
    return Scope.objects.get(name="Local")


@pytest.fixture
def wlcg():
    scope = Scope.objects.get(name="wlcg")
    assert scope.reserved
    return scope


def manager_of(ngi):
    user = UserFactory()
    grant(user, "NGI_OPS_MAN", ngi)
    return user


def names(obj):
    return sorted(s.name for s in obj.scopes.all())


def test_site_may_not_take_a_reserved_scope_its_ngi_lacks(client, egi, wlcg):
    ngi = NGIFactory(scopes=[egi])
    client.force_login(manager_of(ngi))
    response = client.post(reverse("sites:site_add"), site_data(ngi, scopes=[egi.pk, wlcg.pk]))
    assert response.status_code == 400
    assert "Reserved scope(s) wlcg are not assigned to the parent NGI." in response.content.decode()
    assert not Site.objects.exists()


def test_site_may_take_a_reserved_scope_of_its_ngi(client, egi, wlcg):
    ngi = NGIFactory(scopes=[egi, wlcg])
    client.force_login(manager_of(ngi))
    assert client.post(reverse("sites:site_add"), site_data(ngi, scopes=[egi.pk, wlcg.pk])).status_code == 302
    assert names(Site.objects.get()) == ["EGI", "wlcg"]


def test_admins_may_assign_any_reserved_scope(client, egi, wlcg):
    ngi = NGIFactory(scopes=[egi])
    client.force_login(UserFactory(is_superuser=True))
    assert client.post(reverse("sites:site_add"), site_data(ngi, scopes=[egi.pk, wlcg.pk])).status_code == 302


@pytest.mark.parametrize("which", ["none", "reserved only"])
def test_at_least_one_non_reserved_scope(client, egi, wlcg, which):
    ngi = NGIFactory(scopes=[egi, wlcg])
    client.force_login(manager_of(ngi))
    scopes = [] if which == "none" else [wlcg.pk]
    response = client.post(reverse("sites:site_add"), site_data(ngi, scopes=scopes))
    assert response.status_code == 400
    assert "Select at least 1 non-reserved scope(s)." in response.content.decode()
    assert not Site.objects.exists()


def test_site_keeps_a_reserved_scope_it_already_has(client, egi, wlcg):
    site = SiteFactory(ngi=NGIFactory(scopes=[egi]), scopes=[egi, wlcg])
    client.force_login(manager_of(site.ngi))
    response = client.post(reverse("sites:site_edit", args=[site.pk]), edit_data(site, description="still wlcg"))
    assert response.status_code == 302
    assert names(site) == ["EGI", "wlcg"]


def test_losing_a_reserved_scope_strips_it_from_the_services(client, egi, local, wlcg):
    site = SiteFactory(ngi=NGIFactory(scopes=[egi, wlcg]), scopes=[egi, wlcg])
    service = ServiceFactory(site=site, scopes=[egi, local, wlcg])
    untouched = ServiceFactory(site=site, scopes=[local])
    client.force_login(manager_of(site.ngi))
    response = client.post(reverse("sites:site_edit", args=[site.pk]), edit_data(site, scopes=[egi.pk]))
    assert response.status_code == 302
    assert names(site) == ["EGI"]
    assert names(service) == ["EGI", "Local"]
    assert names(untouched) == ["Local"]
    row = AuditLog.objects.get(object_id=service.pk, message="Scopes set from the site")
    assert row.before["scopes"] == ["EGI", "Local", "wlcg"] and row.after["scopes"] == ["EGI", "Local"]


def test_child_scope_action_inherit_and_override(egi, local):
    site = SiteFactory(scopes=[egi])
    other = Scope.objects.create(name="Other")
    service = ServiceFactory(site=site, scopes=[other])
    actor = UserFactory(is_superuser=True)
    services.save_site(actor, site, scopes=[egi, local], child_scope_action=services.ChildScopeAction.NO_MODIFY)
    assert names(service) == ["Other"]
    services.save_site(actor, site, scopes=[egi, local], child_scope_action=services.ChildScopeAction.INHERIT)
    assert names(service) == ["EGI", "Local", "Other"]
    services.save_site(actor, site, scopes=[local], child_scope_action=services.ChildScopeAction.OVERRIDE)
    assert names(service) == ["Local"]


def test_child_scope_action_from_the_form(client, egi, local):
    site = SiteFactory(scopes=[egi])
    service = ServiceFactory(site=site, scopes=[egi])
    client.force_login(manager_of(site.ngi))
    url = reverse("sites:site_edit", args=[site.pk])
    client.post(url, edit_data(site, scopes=[egi.pk, local.pk], child_scope_action="inherit"))
    assert names(service) == ["EGI", "Local"]
    response = client.post(url, edit_data(site, child_scope_action="sideways"))
    assert response.status_code == 400 and "child_scope_action" in response.context["form"].errors


def test_service_rules_refuse_without_writing(egi, wlcg):
    site = SiteFactory(ngi=NGIFactory(scopes=[egi]), scopes=[egi])
    with pytest.raises(ValidationError):
        services.save_site(manager_of(site.ngi), site, scopes=[egi, wlcg])
    assert names(Site.objects.get(pk=site.pk)) == ["EGI"]
    assert not AuditLog.objects.exists()


def test_scope_list_and_detail(client, egi, wlcg):
    ngi = NGIFactory(name="NGI_WLCG", scopes=[egi, wlcg])
    SiteFactory(short_name="WLCG-SITE", ngi=ngi, scopes=[egi, wlcg])
    SiteFactory(short_name="PLAIN-SITE", scopes=[egi])
    body = client.get(reverse("sites:scope_list")).content.decode()
    assert "wlcg" in body and "EGI" in body
    response = client.get(reverse("sites:scope_list"), {"reserved": "true"})
    assert [r.record.name for r in response.context["table"].page.object_list] == ["wlcg"]
    body = client.get(wlcg.get_absolute_url()).content.decode()
    assert "NGI_WLCG" in body and "WLCG-SITE" in body and "PLAIN-SITE" not in body
    assert "reserved" in body
    assert client.get(reverse("sites:scope_list"), {"reserved": "maybe"}).status_code == 400

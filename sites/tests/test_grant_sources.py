"""sites.roles.GOCDBRoles, the grant source of GOCDB roles: which rows each role holder may see or change,
role assignments included (their own, the contacts where they may read personal data, every request
where they may grant roles), asked through the one permission question."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from egiportal import permissions
from egiportal.errors import Forbidden
from egiportal.services import save_audited
from egiportal.tests.factories import UserFactory
from endpoints.models import Service
from endpoints.tests.factories import ServiceFactory, ServiceGroupFactory
from sites.choices import Action, RoleStatus
from sites.models import Role, Site
from sites.roles import GOCDBRoles, entity_models
from sites.tests.factories import NGIFactory, ProjectFactory, SiteFactory, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    project = ProjectFactory(name="P-1")
    ngi, other_ngi = NGIFactory(name="NGI_X"), NGIFactory(name="NGI_Y")
    project.ngis.add(ngi)
    site, other_site = SiteFactory(short_name="S-X", ngi=ngi), SiteFactory(short_name="S-Y", ngi=other_ngi)
    users = {name: UserFactory(username=name) for name in ("coo", "ngi_man", "site_admin", "other_admin", "alice")}
    grant(users["coo"], "COO", project)
    grant(users["ngi_man"], "NGI_OPS_MAN", ngi)
    grant(users["site_admin"], "SITE_ADMIN", site)
    grant(users["other_admin"], "SITE_ADMIN", other_site)
    request = grant(users["alice"], "SITE_ADMIN", site, status=RoleStatus.PENDING)
    return {"project": project, "ngi": ngi, "site": site, "other_site": other_site, "request": request, **users}


def test_entity_kinds_come_from_the_installed_apps():
    assert set(entity_models()) == {"project", "ngi", "site", "servicegroup"}


def test_site_edit_climbs_the_ownership_tree(world):
    editable = {name: set(Site.objects.visible_to(world[name], Action.EDIT_OBJECT)) for name in world if name in (
        "coo", "ngi_man", "site_admin", "other_admin", "alice")}  # fmt: skip
    assert editable == {
        "coo": set(),  # project roles do not edit sites (RoleActionMappings)...
        "ngi_man": {world["site"]},
        "site_admin": {world["site"]},
        "other_admin": {world["other_site"]},
        "alice": set(),  # a pending request grants nothing
    }
    # ...but they change the certification status of the sites of the project's NGIs
    assert list(Site.objects.visible_to(world["coo"], Action.SITE_EDIT_CERT_STATUS)) == [world["site"]]
    assert (
        not Site.objects.visible_to(world["ngi_man"], Action.SITE_EDIT_CERT_STATUS).exclude(ngi=world["ngi"]).exists()
    )


def test_a_service_follows_its_site(world):
    service = ServiceFactory(site=world["site"])
    assert permissions.authorise(world["site_admin"], Action.EDIT_OBJECT, service)
    assert not permissions.authorise(world["other_admin"], Action.EDIT_OBJECT, service)
    assert permissions.authorise(None, permissions.VIEW, service)  # topology is public


def test_role_rows_each_holder_sees(world):
    def seen(name):
        return {(r.user.username, r.status) for r in Role.objects.visible_to(world[name])}

    granted, pending = RoleStatus.GRANTED, RoleStatus.PENDING
    site_roles = {("site_admin", granted)}
    # the site's colleagues see its granted roles (contacts), not the pending request
    assert seen("site_admin") == site_roles
    # the NGI manager may grant roles over the site: they see the request too, and the NGI's roles
    assert seen("ngi_man") == site_roles | {("alice", pending), ("ngi_man", granted)}
    # another site's admin sees only what is their own
    assert seen("other_admin") == {("other_admin", granted)}
    # the requester sees their own request, nothing else
    assert seen("alice") == {("alice", pending)}
    assert not Role.objects.visible_to(None).exists()
    assert Role.objects.visible_to(UserFactory(is_superuser=True)).count() == Role.objects.count()


def test_pending_requests_to_decide(world):
    decidable = Role.objects.filter(status=RoleStatus.PENDING).visible_to
    assert list(decidable(world["ngi_man"], Action.GRANT_ROLE)) == [world["request"]]
    assert not decidable(world["site_admin"], Action.GRANT_ROLE).exists()
    assert not decidable(world["other_admin"], Action.GRANT_ROLE).exists()


def test_role_visibility_is_one_query(world):
    for _ in range(5):
        grant(UserFactory(), "SITE_ADMIN", SiteFactory(ngi=world["ngi"]), status=RoleStatus.PENDING)
    ServiceGroupFactory()
    with CaptureQueriesContext(connection) as ctx:
        rows = list(Role.objects.visible_to(world["ngi_man"]).select_related("user"))
    assert len(ctx.captured_queries) == 1 and len(rows) == 8


def test_personal_data_needs_a_granted_role():
    source = GOCDBRoles()
    user = UserFactory()
    assert not permissions.holds(user, Action.READ_PERSONAL_DATA)
    grant(user, "SITE_ADMIN", SiteFactory(), status=RoleStatus.PENDING)
    assert not source.holds(user, Action.READ_PERSONAL_DATA)
    grant(user, "SITE_ADMIN", SiteFactory())
    assert permissions.holds(user, Action.READ_PERSONAL_DATA)
    assert not source.holds(user, "no such action")


def test_an_edit_that_leaves_the_editor_without_rights_is_rolled_back(world):
    service = ServiceFactory(site=world["site"], hostname="moved.example.org")
    service.site = world["other_site"]  # past the service's own move rule, straight to the audited save
    with pytest.raises(Forbidden, match="where you may not edit it"):
        save_audited(world["site_admin"], service)
    assert Service.objects.get(pk=service.pk).site == world["site"]

"""REST API of site properties, certification changes and roles: the generic tests where they fit
(site properties), and per resource the permissions from both sides, the role workflow with its audit
rows, filters, hostile input (400 with reasons, nothing saved) and fixed list query counts."""

from datetime import timedelta
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from egiportal.api import testcases
from egiportal.api.testcases import APIModelTests, api, token_for
from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory
from endpoints.tests.factories import ServiceGroupFactory
from sites.choices import AuditAction, CertificationStatus, RoleStatus, RoleType
from sites.models import CertificationStatusLog, Role, Site, SiteProperty
from sites.tests.factories import NGIFactory, ProjectFactory, SiteFactory, grant, user_with

PROPS = "/api/v1/site-properties/"
CERT = "/api/v1/certification-changes/"
ROLES = "/api/v1/roles/"
counter = count()


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    settings.API_RATE_LIMIT = ""  # many requests per test; rate limiting has its own tests


def site_rows(site, action=None):
    rows = testcases.audit_rows(site)
    return rows.filter(action=action) if action else rows


def query_count(client, path, user=None):
    if user is not None:
        client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        reply = api(client, "GET", path)
    assert reply.status_code == 200, reply.content
    return len(queries), reply.json()


# ================================================================================================
# Site properties
# ================================================================================================


class TestSitePropertyAPI(APIModelTests):
    model = SiteProperty
    path = PROPS
    brief_fields = ["display", "id", "key", "url"]
    update_data = {"value": "changed"}

    def audited(self, prop):
        """set_properties/delete_properties audit the site (its snapshot lists its properties)."""
        return testcases.audit_rows(prop.parent)

    def make(self):
        return SiteProperty.objects.create(parent=SiteFactory(), key=f"key{next(counter)}", value="v")

    def create_data(self):
        site = SiteFactory()
        return {"parent": site.short_name, "key": "new.key", "value": "new value"}, user_with(RoleType.SITE_ADMIN, site)

    def allowed_user(self, prop):
        return user_with(RoleType.SITE_ADMIN, prop.parent)

    def other_user(self, prop):
        return user_with(RoleType.SITE_ADMIN, SiteFactory())


@pytest.mark.django_db
def test_property_bulk_create_is_grouped_by_site_and_all_or_nothing(client):
    ngi = NGIFactory()
    first, second = SiteFactory(ngi=ngi), SiteFactory(ngi=ngi)
    manager = user_with(RoleType.NGI_OPS_MAN, ngi)
    body = [
        {"parent": first.short_name, "key": "a", "value": "1"},
        {"parent": second.pk, "key": "a", "value": "2"},
        {"parent": first.pk, "key": "b", "value": "3"},
    ]
    bad = [*body, {"parent": second.pk, "key": "bad/key", "value": "x"}]
    refused = api(client, "POST", PROPS, bad, user=manager)
    assert refused.status_code == 400 and "A key uses letters" in str(refused.json())
    assert not SiteProperty.objects.exists() and not AuditLog.objects.exists()
    created = api(client, "POST", PROPS, body)
    assert created.status_code == 201, created.content
    assert [(r["parent"]["id"], r["key"], r["value"]) for r in created.json()] == [
        (first.pk, "a", "1"),
        (second.pk, "a", "2"),
        (first.pk, "b", "3"),
    ]
    assert site_rows(first).count() == 1 and site_rows(second).count() == 1  # one set_properties per site
    assert site_rows(first).get().after["properties"] == {"a": "1", "b": "3"}


@pytest.mark.django_db
def test_property_create_refuses_an_existing_key_and_other_sites(client):
    site = SiteFactory()
    site.properties.create(key="tier", value="1")
    admin = user_with(RoleType.SITE_ADMIN, site)
    again = api(client, "POST", PROPS, {"parent": site.pk, "key": "tier", "value": "2"}, user=admin)
    assert again.status_code == 409 and "already exists" in str(again.json()["key"])
    other = SiteFactory()
    refused = api(client, "POST", PROPS, {"parent": other.pk, "key": "tier", "value": "2"})
    assert refused.status_code == 403
    assert not other.properties.exists() and site.properties.get().value == "1"
    assert not AuditLog.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field, value",
    [
        ("key", "x" * 256),
        ("key", "two\nlines"),
        ("key", ""),
        ("value", "v" * 256),
        ("value", "<script>"),
        ("parent", "NO-SUCH-SITE"),
        ("parent", {"short_name__startswith": "S"}),
        ("parent", 10**30),
        ("key", ["list"]),
    ],
)
def test_property_hostile_input_is_400_and_saves_nothing(client, field, value):
    site = SiteFactory()
    body = {"parent": site.pk, "key": "ok", "value": "ok", field: value}
    reply = api(client, "POST", PROPS, body, user=user_with(RoleType.SITE_ADMIN, site))
    assert reply.status_code == 400 and field in reply.json(), reply.content
    assert not SiteProperty.objects.exists()


@pytest.mark.django_db
def test_property_key_and_site_cannot_change(client):
    prop = SiteProperty.objects.create(parent=SiteFactory(), key="k", value="v")
    admin = user_with(RoleType.SITE_ADMIN, prop.parent)
    renamed = api(client, "PATCH", f"{PROPS}{prop.pk}/", {"key": "other"}, user=admin)
    assert renamed.status_code == 400 and "key" in renamed.json()
    moved = api(client, "PATCH", f"{PROPS}{prop.pk}/", {"parent": SiteFactory().pk})
    assert moved.status_code == 400 and "parent" in moved.json()
    prop.refresh_from_db()
    assert (prop.key, prop.value, prop.parent_id) == ("k", "v", prop.parent.pk)


@pytest.mark.django_db
def test_property_filters(client):
    site, other = SiteFactory(), SiteFactory()
    wanted = site.properties.create(key="wlcg.tier", value="2")
    site.properties.create(key="other", value="2")
    other.properties.create(key="wlcg.tier", value="2")
    by_name = api(client, "GET", f"{PROPS}?parent={site.short_name}&key=wlcg.tier").json()["results"]
    assert [r["id"] for r in by_name] == [wanted.pk]
    by_id = api(client, "GET", f"{PROPS}?parent_id={site.pk}&q=wlcg").json()["results"]
    assert [r["id"] for r in by_id] == [wanted.pk]
    assert api(client, "GET", f"{PROPS}?parent=NO-SUCH-SITE").status_code == 400
    assert api(client, "GET", f"{PROPS}?parent_id=abc").status_code == 400


# ================================================================================================
# Certification changes
# ================================================================================================


def cert_body(site, new_status=CertificationStatus.SUSPENDED, reason="Failing availability"):
    return {"site": site.short_name, "new_status": new_status, "reason": reason}


@pytest.mark.django_db
def test_certification_change_by_ngi_manager_is_saved_logged_and_audited(client):
    site = SiteFactory(certification_status=CertificationStatus.CERTIFIED)
    manager = user_with(RoleType.NGI_OPS_MAN, site.ngi)
    reply = api(client, "POST", CERT, cert_body(site), user=manager)
    assert reply.status_code == 201, reply.content
    data = reply.json()
    assert data["site"]["id"] == site.pk and data["old_status"] == "Certified" and data["new_status"] == "Suspended"
    assert data["reason"] == "Failing availability" and data["added_by"] == str(manager)
    site.refresh_from_db()
    assert site.certification_status == CertificationStatus.SUSPENDED
    assert CertificationStatusLog.objects.get(pk=data["id"]).site == site
    assert site_rows(site, AuditAction.CERTIFY).get().message == "Failing availability"
    shown = api(client, "GET", f"{CERT}{data['id']}/")
    assert shown.status_code == 200 and shown.json()["new_status"] == "Suspended"


@pytest.mark.django_db
def test_certification_change_is_refused_without_the_right(client):
    site = SiteFactory(certification_status=CertificationStatus.CERTIFIED)
    assert api(client, "POST", CERT, cert_body(site)).status_code in (401, 403)
    for user in (
        user_with(RoleType.SITE_ADMIN, site),  # edits the site, but certification is the NGI's
        user_with(RoleType.NGI_OPS_MAN, NGIFactory()),  # another NGI's manager
        UserFactory(),
    ):
        reply = api(client, "POST", CERT, cert_body(site), user=user)
        assert reply.status_code == 403, reply.content
        assert "certification status" in reply.json()["detail"]
    site.refresh_from_db()
    assert site.certification_status == CertificationStatus.CERTIFIED
    assert not CertificationStatusLog.objects.filter(site=site).exists() and not AuditLog.objects.exists()


@pytest.mark.django_db
def test_forbidden_transition_is_400_with_gocdbs_message(client):
    site = SiteFactory(certification_status=CertificationStatus.SUSPENDED)
    manager = user_with(RoleType.NGI_OPS_MAN, site.ngi)
    reply = api(client, "POST", CERT, cert_body(site, CertificationStatus.CERTIFIED), user=manager)
    assert reply.status_code == 400
    assert reply.json() == {"new_status": ["A site may not go from Suspended to Certified."]}
    same = api(client, "POST", CERT, cert_body(site, CertificationStatus.SUSPENDED))
    assert same.json() == {"new_status": ["The site is already Suspended."]}
    site.refresh_from_db()
    assert site.certification_status == CertificationStatus.SUSPENDED and not AuditLog.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field, value",
    [
        ("new_status", "Bogus"),
        ("new_status", "x" * 17),
        ("new_status", None),
        ("reason", ""),
        ("reason", "r" * 301),
        ("reason", "drop table; <b>"),
        ("site", "NO-SUCH-SITE"),
        ("site", True),
        ("old_status", "Certified"),
        ("added_by", "someone else"),
    ],
)
def test_certification_hostile_input_is_400_and_changes_nothing(client, field, value):
    site = SiteFactory(certification_status=CertificationStatus.CERTIFIED)
    body = {**cert_body(site), field: value}
    reply = api(client, "POST", CERT, body, user=user_with(RoleType.NGI_OPS_MAN, site.ngi))
    assert reply.status_code == 400 and field in reply.json(), reply.content
    site.refresh_from_db()
    assert site.certification_status == CertificationStatus.CERTIFIED
    assert not CertificationStatusLog.objects.exists()


@pytest.mark.django_db
def test_certification_history_cannot_be_edited(client):
    site = SiteFactory()
    log = CertificationStatusLog.objects.create(site=site, new_status="Certified", added_by="x", reason="Initial")
    admin = UserFactory(is_superuser=True)
    for method in ("PUT", "PATCH", "DELETE"):
        assert api(client, method, f"{CERT}{log.pk}/", {"reason": "rewritten"}, user=admin).status_code == 405
        assert api(client, method, CERT, [{"id": log.pk, "reason": "rewritten"}]).status_code == 405
    log.refresh_from_db()
    assert log.reason == "Initial"


@pytest.mark.django_db
def test_certification_filters(client):
    site, other = SiteFactory(), SiteFactory()
    old = CertificationStatusLog.objects.create(site=site, new_status="Candidate", added_by="x", reason="Initial")
    CertificationStatusLog.objects.filter(pk=old.pk).update(added_date=timezone.now() - timedelta(days=30))
    new = CertificationStatusLog.objects.create(
        site=site, old_status="Candidate", new_status="Uncertified", added_by="x", reason="Moved on"
    )
    CertificationStatusLog.objects.create(site=other, new_status="Uncertified", added_by="x", reason="Other")
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")

    def ids(query):
        reply = api(client, "GET", f"{CERT}?{query}")
        assert reply.status_code == 200, reply.content
        return sorted(r["id"] for r in reply.json()["results"])

    assert ids(f"site={site.short_name}") == sorted([old.pk, new.pk])
    assert ids(f"site_id={site.pk}&new_status=Uncertified") == [new.pk]
    assert ids(f"site={site.short_name}&added_date__gte={since}") == [new.pk]
    assert ids(f"ngi={site.ngi.name}&q=moved") == [new.pk]
    for bad in ("new_status=Bogus", "site=NO-SUCH-SITE", "added_date__gte=yesterday", "site_id=-1", "nope=1"):
        assert api(client, "GET", f"{CERT}?{bad}").status_code == 400, bad


@pytest.mark.django_db
def test_certification_list_query_count_is_fixed(client):
    CertificationStatusLog.objects.create(site=SiteFactory(), new_status="Certified", added_by="x", reason="r")
    few, _ = query_count(client, CERT)
    for _ in range(6):
        CertificationStatusLog.objects.create(site=SiteFactory(), new_status="Certified", added_by="x", reason="r")
    many, data = query_count(client, CERT)
    assert few == many <= testcases.MAX_LIST_QUERIES and data["count"] == 7


# ================================================================================================
# Roles
# ================================================================================================


@pytest.fixture
def site():
    return SiteFactory()


@pytest.fixture
def requester():
    return UserFactory(username="requester")


def listed(client, user, query=""):
    client.force_login(user)
    reply = api(client, "GET", f"{ROLES}{query}")
    assert reply.status_code == 200, reply.content
    return sorted(r["id"] for r in reply.json()["results"])


def role_rows(role_pk, action):
    return AuditLog.objects.filter(content_type__model="role", object_id=role_pk, action=action)


@pytest.mark.django_db
def test_role_workflow_request_approve_revoke_is_audited(client, site, requester):
    manager = user_with(RoleType.SITE_OPS_MAN, site)
    requested = api(client, "POST", ROLES, {"role_type": "SITE_ADMIN", "entity": site.pk}, user=requester)
    assert requested.status_code == 201, requested.content
    role = requested.json()
    assert role["status"] == RoleStatus.PENDING and role["user"]["username"] == "requester"
    assert role["entity"] == {"type": "site", "id": site.pk, "name": site.short_name, "url": role["entity"]["url"]}
    assert role["entity"]["url"].endswith(f"/api/v1/sites/{site.pk}/")
    assert role["role_type"] == "SITE_ADMIN" and role["role_name"] == "Site Administrator"
    assert role_rows(role["id"], AuditAction.ROLE_REQUEST).exists()

    approved = api(client, "POST", f"{ROLES}{role['id']}/approve/", user=manager)
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == RoleStatus.GRANTED
    assert role_rows(role["id"], AuditAction.ROLE_GRANT).get().user == manager
    twice = api(client, "POST", f"{ROLES}{role['id']}/approve/")
    assert twice.status_code == 400 and "is not pending" in str(twice.json())

    revoked = api(client, "POST", f"{ROLES}{role['id']}/revoke/", user=manager)
    assert revoked.status_code == 204
    assert not Role.objects.filter(pk=role["id"]).exists()
    assert role_rows(role["id"], AuditAction.ROLE_REVOKE).exists()


@pytest.mark.django_db
def test_role_request_by_entity_type_and_name_then_reject(client, requester):
    ngi = NGIFactory()
    approver = user_with(RoleType.NGI_OPS_MAN, ngi)
    body = {"role_type": "NGI_SEC_OFFICER", "entity": {"type": "ngi", "name": ngi.name}}
    requested = api(client, "POST", ROLES, body, user=requester)
    assert requested.status_code == 201, requested.content
    pk = requested.json()["id"]
    rejected = api(client, "POST", f"{ROLES}{pk}/reject/", user=approver)
    assert rejected.status_code == 204
    assert not Role.objects.filter(pk=pk).exists() and role_rows(pk, AuditAction.ROLE_REJECT).exists()


@pytest.mark.django_db
def test_role_decisions_are_refused_to_those_without_the_right(client, site, requester):
    pending = grant(requester, RoleType.SITE_ADMIN, site, status=RoleStatus.PENDING)
    colleague = user_with(RoleType.SITE_ADMIN, site)  # reads the site's contacts, cannot decide requests
    granted = grant(UserFactory(), RoleType.SITE_ADMIN, site)
    # The requester sees their own request, but may not approve it.
    assert api(client, "POST", f"{ROLES}{pending.pk}/approve/", user=requester).status_code == 403
    # A site admin sees the granted roles of their site (403 on revoke), not the pending requests (404).
    assert api(client, "POST", f"{ROLES}{granted.pk}/revoke/", user=colleague).status_code == 403
    assert api(client, "DELETE", f"{ROLES}{granted.pk}/").status_code == 403
    assert api(client, "POST", f"{ROLES}{pending.pk}/approve/").status_code == 404
    # Another site's manager sees none of it.
    stranger = user_with(RoleType.SITE_OPS_MAN, SiteFactory())
    for path in (f"{ROLES}{pending.pk}/approve/", f"{ROLES}{pending.pk}/reject/", f"{ROLES}{granted.pk}/revoke/"):
        assert api(client, "POST", path, user=stranger).status_code == 404
    assert api(client, "DELETE", f"{ROLES}{granted.pk}/").status_code == 404
    client.logout()
    assert api(client, "POST", f"{ROLES}{pending.pk}/approve/").status_code in (401, 403)
    pending.refresh_from_db()
    granted.refresh_from_db()
    assert pending.status == RoleStatus.PENDING and granted.status == RoleStatus.GRANTED
    assert not AuditLog.objects.exists()


@pytest.mark.django_db
def test_holder_may_drop_their_own_role(client, site, requester):
    own = grant(requester, RoleType.SITE_ADMIN, site)
    assert api(client, "DELETE", f"{ROLES}{own.pk}/", user=requester).status_code == 204
    assert not Role.objects.filter(pk=own.pk).exists() and role_rows(own.pk, AuditAction.ROLE_REVOKE).exists()


@pytest.mark.django_db
def test_bulk_revoke_is_all_or_nothing(client, site):
    manager = user_with(RoleType.SITE_OPS_MAN, site)
    mine = [grant(UserFactory(), RoleType.SITE_ADMIN, site) for _ in range(2)]
    elsewhere = grant(UserFactory(), RoleType.SITE_ADMIN, SiteFactory())
    body = [{"id": role.pk} for role in [*mine, elsewhere]]
    assert api(client, "DELETE", ROLES, body, user=manager).status_code == 404
    assert Role.objects.count() == 4 and not AuditLog.objects.exists()
    assert api(client, "DELETE", ROLES, body[:2]).status_code == 204
    assert not Role.objects.filter(pk__in=[r.pk for r in mine]).exists()
    assert AuditLog.objects.filter(action=AuditAction.ROLE_REVOKE).count() == 2


@pytest.mark.django_db
def test_read_only_token_cannot_decide(client, site, requester):
    pending = grant(requester, RoleType.SITE_ADMIN, site, status=RoleStatus.PENDING)
    secret = token_for(user_with(RoleType.SITE_OPS_MAN, site), write_enabled=False)
    assert api(client, "GET", f"{ROLES}{pending.pk}/", token=secret).status_code == 200
    assert api(client, "POST", f"{ROLES}{pending.pk}/approve/", token=secret).status_code == 403
    pending.refresh_from_db()
    assert pending.status == RoleStatus.PENDING


@pytest.mark.django_db
def test_role_visibility_follows_the_personal_data_rules(client, site, requester):
    ngi = site.ngi
    own = grant(requester, RoleType.SITE_ADMIN, site, status=RoleStatus.PENDING)
    admin = UserFactory()
    admin_role = grant(admin, RoleType.SITE_ADMIN, site)
    ops_man = UserFactory()
    ops_role = grant(ops_man, RoleType.SITE_OPS_MAN, site)
    ngi_manager = UserFactory()
    ngi_role = grant(ngi_manager, RoleType.NGI_OPS_MAN, ngi)
    elsewhere = grant(UserFactory(), RoleType.SITE_ADMIN, SiteFactory())
    group = ServiceGroupFactory()
    group_admin = UserFactory()
    group_role = grant(group_admin, RoleType.SERVICE_GROUP_ADMIN, group)
    group_request = grant(requester, RoleType.SERVICE_GROUP_ADMIN, group, status=RoleStatus.PENDING)

    # Your own roles and requests, whatever they are over.
    assert listed(client, requester) == sorted([own.pk, group_request.pk])
    # A site admin reads the site's contacts (granted roles), not its pending requests.
    assert listed(client, admin) == sorted([admin_role.pk, ops_role.pk])
    # An approver of the site also sees the requests over it.
    assert listed(client, ops_man) == sorted([own.pk, admin_role.pk, ops_role.pk])
    # The NGI's manager: the NGI's roles and those of its sites, requests included.
    assert listed(client, ngi_manager) == sorted([own.pk, admin_role.pk, ops_role.pk, ngi_role.pk])
    # A service group admin decides the group's requests (no personal-data right exists there).
    assert listed(client, group_admin) == sorted([group_role.pk, group_request.pk])
    assert listed(client, UserFactory()) == []
    everything = [own, admin_role, ops_role, ngi_role, elsewhere, group_role, group_request]
    assert listed(client, UserFactory(is_superuser=True)) == sorted(r.pk for r in everything)

    client.force_login(admin)
    assert api(client, "GET", f"{ROLES}{elsewhere.pk}/").status_code == 404
    assert api(client, "GET", f"{ROLES}{own.pk}/").status_code == 404
    assert api(client, "GET", f"{ROLES}{ops_role.pk}/").status_code == 200
    client.logout()
    assert api(client, "GET", ROLES).status_code in (401, 403)
    assert api(client, "GET", f"{ROLES}{own.pk}/").status_code in (401, 403)


@pytest.mark.django_db
def test_role_filters(client, site, requester):
    project = ProjectFactory()
    site.ngi.projects.add(project)
    pending = grant(requester, RoleType.SITE_ADMIN, site, status=RoleStatus.PENDING)
    granted = grant(requester, RoleType.SITE_OPS_MAN, site)
    on_ngi = grant(requester, RoleType.NGI_OPS_MAN, site.ngi)
    other = grant(UserFactory(username="other"), RoleType.SITE_ADMIN, site)
    admin = UserFactory(is_superuser=True)
    assert listed(client, admin, f"?status={RoleStatus.PENDING}") == [pending.pk]
    assert listed(client, admin, "?role_type=SITE_ADMIN&user=requester") == [pending.pk]
    assert listed(client, admin, "?user=other") == [other.pk]
    assert listed(client, admin, "?user=nobody") == []
    assert listed(client, admin, f"?entity_id={site.ngi.pk}") == [on_ngi.pk]
    assert listed(client, admin, f"?owned_entity_id={site.pk}&user_id={requester.pk}") == sorted(
        [pending.pk, granted.pk]
    )
    assert listed(client, admin, "?entity_type=ngi") == [on_ngi.pk]
    for bad in ("status=maybe", "role_type=GOD", "entity_id=x", "entity_type=planet", "user=" + "u" * 151, "nope=1"):
        assert api(client, "GET", f"{ROLES}?{bad}").status_code == 400, bad


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"role_type": "GOD", "entity": "SITE"}, "role_type"),
        ({"role_type": "NGI_OPS_MAN", "entity": "SITE"}, "role_type"),  # an NGI role over a site
        ({"role_type": "SITE_ADMIN"}, "entity"),
        ({"role_type": "SITE_ADMIN", "entity": 999999999}, "entity"),
        ({"role_type": "SITE_ADMIN", "entity": 10**30}, "entity"),
        ({"role_type": "SITE_ADMIN", "entity": True}, "entity"),
        ({"role_type": "SITE_ADMIN", "entity": {"type": "planet", "id": 1}}, "entity"),
        ({"role_type": "SITE_ADMIN", "entity": {"type": "site", "name": "x" * 1000}}, "entity"),
        ({"role_type": "SITE_ADMIN", "entity": {"type": "site", "name": "a\x00b"}}, "entity"),
        ({"role_type": "SITE_ADMIN", "entity": {"type": "site", "short_name__startswith": "S"}}, "entity"),
        ({"role_type": "SITE_ADMIN", "entity": {"type": "site", "id": "1 OR 1=1"}}, "entity"),
        ({"role_type": "SITE_ADMIN", "entity": "SITE", "user": "other"}, "user"),
        ({"role_type": "SITE_ADMIN", "entity": "SITE", "status": RoleStatus.GRANTED}, "status"),
        ({"role_type": ["SITE_ADMIN"], "entity": "SITE"}, "role_type"),
    ],
)
def test_role_request_hostile_input_is_400_and_saves_nothing(client, site, requester, body, field):
    if body.get("entity") == "SITE":
        body = {**body, "entity": site.pk}
    reply = api(client, "POST", ROLES, body, user=requester)
    assert reply.status_code == 400 and field in reply.json(), reply.content
    assert not Role.objects.exists() and not AuditLog.objects.exists()


@pytest.mark.django_db
def test_role_request_twice_and_bulk_requests(client, site, requester):
    first = api(client, "POST", ROLES, {"role_type": "SITE_ADMIN", "entity": site.pk}, user=requester)
    assert first.status_code == 201
    again = api(client, "POST", ROLES, {"role_type": "SITE_ADMIN", "entity": site.pk})
    assert again.status_code == 400 and "already requested" in str(again.json()["role_type"])
    body = [
        {"role_type": "SITE_SECOFFICER", "entity": site.pk},
        {"role_type": "SITE_ADMIN", "entity": site.pk},  # already requested: the whole list is refused
    ]
    assert api(client, "POST", ROLES, body).status_code == 400
    assert Role.objects.filter(user=requester).count() == 1
    body[1] = {"role_type": "SITE_OPS_MAN", "entity": {"type": "site", "id": site.pk}}
    both = api(client, "POST", ROLES, body)
    assert both.status_code == 201 and [r["role_type"] for r in both.json()] == ["SITE_SECOFFICER", "SITE_OPS_MAN"]
    assert Role.objects.filter(user=requester, status=RoleStatus.PENDING).count() == 3


@pytest.mark.django_db
def test_roles_cannot_be_edited(client, site, requester):
    role = grant(requester, RoleType.SITE_ADMIN, site)
    admin = UserFactory(is_superuser=True)
    for method in ("PUT", "PATCH"):
        reply = api(client, method, f"{ROLES}{role.pk}/", {"role_type": "SITE_OPS_MAN"}, user=admin)
        assert reply.status_code == 405
        assert api(client, method, ROLES, [{"id": role.pk, "role_type": "SITE_OPS_MAN"}]).status_code == 405
    role.refresh_from_db()
    assert role.role_type == RoleType.SITE_ADMIN


@pytest.mark.django_db
def test_role_list_query_count_is_fixed(client):
    admin = UserFactory(is_superuser=True)

    def add_roles():
        ngi = NGIFactory()
        grant(UserFactory(), RoleType.NGI_OPS_MAN, ngi)
        grant(UserFactory(), RoleType.SITE_ADMIN, SiteFactory(ngi=ngi), status=RoleStatus.PENDING)
        grant(UserFactory(), RoleType.SERVICE_GROUP_ADMIN, ServiceGroupFactory())
        grant(UserFactory(), RoleType.COD_STAFF, ProjectFactory())

    add_roles()
    few, _ = query_count(client, ROLES, admin)
    for _ in range(3):
        add_roles()
    many, data = query_count(client, ROLES)
    assert few == many <= testcases.MAX_LIST_QUERIES and data["count"] == 16
    # And for a user whose visibility takes the role subqueries.
    manager = UserFactory()
    for ngi in [NGIFactory() for _ in range(2)]:
        grant(manager, RoleType.NGI_OPS_MAN, ngi)
        grant(UserFactory(), RoleType.SITE_ADMIN, SiteFactory(ngi=ngi))
    limited, data = query_count(client, ROLES, manager)
    assert limited <= testcases.MAX_LIST_QUERIES and data["count"] == 4
    assert all(
        Site.objects.filter(pk=r["entity"]["id"]).exists() for r in data["results"] if r["entity"]["type"] == "site"
    )

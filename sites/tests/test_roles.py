"""Role services (specs/gocdb.md §5.6): request, grant, reject, revoke, pending queue, notification."""

import time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from egiportal.models import AuditLog, OutboxMessage
from egiportal.tests.factories import UserFactory
from endpoints.tests.factories import ServiceGroupFactory
from sites import services
from sites.choices import AuditAction, RoleStatus
from sites.models import Role
from sites.tests.factories import NGIFactory, ProjectFactory, SiteFactory, grant

pytestmark = pytest.mark.django_db

PENDING, GRANTED = RoleStatus.PENDING, RoleStatus.GRANTED


@pytest.fixture
def world():
    """A project with one NGI and a site, a second NGI with its own site, and role holders."""
    project = ProjectFactory(name="EGI-T")
    ngi, other_ngi = NGIFactory(name="NGI_A"), NGIFactory(name="NGI_B")
    project.ngis.add(ngi, other_ngi)
    site, other_site = SiteFactory(short_name="SITE-A", ngi=ngi), SiteFactory(short_name="SITE-B", ngi=other_ngi)
    users = {name: UserFactory(username=name) for name in ("alice", "ngi_man", "other_ngi_man", "site_admin")}
    grant(users["ngi_man"], "NGI_OPS_MAN", ngi)
    grant(users["other_ngi_man"], "NGI_OPS_MAN", other_ngi)
    grant(users["site_admin"], "SITE_ADMIN", site)
    return {"project": project, "ngi": ngi, "other_ngi": other_ngi, "site": site, "other_site": other_site, **users}


def audit_actions(role_pk):
    return list(AuditLog.objects.filter(object_id=role_pk).order_by("id").values_list("action", flat=True))


# --- request ---------------------------------------------------------------------------------


def test_request_creates_pending_role_and_audit(world):
    role = services.request_role(world["alice"], world["site"], "SITE_ADMIN")
    role.refresh_from_db()
    assert (role.user, role.role_type, role.status) == (world["alice"], "SITE_ADMIN", PENDING)
    assert role.owned_entity_id == world["site"].pk
    entry = AuditLog.objects.get(object_id=role.pk, action=AuditAction.ROLE_REQUEST)
    assert entry.user == world["alice"]
    assert entry.before is None
    assert entry.after["status"] == PENDING and entry.after["entity"] == "SITE-A" and entry.after["user"] == "alice"


def test_request_accepts_the_owned_entity_row(world):
    role = services.request_role(world["alice"], world["ngi"].ownedentity_ptr, "NGI_SEC_OFFICER")
    assert role.owned_entity.concrete == world["ngi"]


@pytest.mark.parametrize(
    "entity_key, role_type",
    [
        ("site", "NGI_OPS_MAN"),  # an NGI role on a site
        ("ngi", "SITE_ADMIN"),
        ("project", "SERVICE_GROUP_ADMIN"),
        ("site", "COD_ADMIN"),
        ("site", "<script>alert(1)</script>"),
        ("site", "x" * 5000),
        ("site", ""),
        ("site", None),
    ],
)
def test_request_of_a_role_type_not_requestable_there_is_refused(world, entity_key, role_type):
    with pytest.raises(ValidationError) as exc:
        services.request_role(world["alice"], world[entity_key], role_type)
    assert "is not a role that can be requested" in str(exc.value)
    assert not Role.objects.filter(user=world["alice"]).exists()
    assert not AuditLog.objects.filter(action=AuditAction.ROLE_REQUEST).exists()


def test_request_on_service_group_only_offers_sg_admin(world):
    group = ServiceGroupFactory()
    role = services.request_role(world["alice"], group, "SERVICE_GROUP_ADMIN")
    assert role.status == PENDING
    with pytest.raises(ValidationError):
        services.request_role(world["alice"], group, "SITE_ADMIN")


def test_duplicate_pending_request_is_refused(world):
    services.request_role(world["alice"], world["site"], "SITE_ADMIN")
    with pytest.raises(ValidationError, match="You have already requested the role Site Administrator over SITE-A"):
        services.request_role(world["alice"], world["site"], "SITE_ADMIN")
    assert Role.objects.filter(user=world["alice"]).count() == 1


def test_request_of_a_granted_role_is_refused(world):
    with pytest.raises(ValidationError, match="You already have the role Site Administrator over SITE-A"):
        services.request_role(world["site_admin"], world["site"], "SITE_ADMIN")
    assert Role.objects.filter(user=world["site_admin"]).count() == 1


def test_same_role_type_on_another_entity_is_fine(world):
    services.request_role(world["site_admin"], world["other_site"], "SITE_ADMIN")
    assert Role.objects.filter(user=world["site_admin"], status=PENDING).count() == 1


def test_anonymous_and_inactive_users_cannot_request(world):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(PermissionDenied):
        services.request_role(AnonymousUser(), world["site"], "SITE_ADMIN")
    inactive = UserFactory(is_active=False)
    with pytest.raises(PermissionDenied):
        services.request_role(inactive, world["site"], "SITE_ADMIN")
    assert not Role.objects.filter(status=PENDING).exists()


def test_request_is_all_or_nothing(world, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(services.audit, "record", broken)
    with pytest.raises(RuntimeError):
        services.request_role(world["alice"], world["site"], "SITE_ADMIN")
    assert not Role.objects.filter(user=world["alice"]).exists()


def test_request_enqueues_the_notification_only_on_commit(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.request_role(world["alice"], world["site"], "SITE_ADMIN")
    assert len(callbacks) == 1


def test_request_notifies_approvers_through_the_task(
    world, django_capture_on_commit_callbacks, eager_tasks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        services.request_role(world["alice"], world["site"], "SITE_ADMIN")
    assert [m.to for m in mailoutbox] == [[world["ngi_man"].email]]


def test_request_is_kept_when_the_broker_is_down(world, django_capture_on_commit_callbacks, caplog, broker_down):
    """A dead broker is logged; the saved request is not turned into an error and its e-mail waits in the
    outbox for the relay."""
    with broker_down():
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            role = services.request_role(world["alice"], world["site"], "SITE_ADMIN")
        elapsed = time.monotonic() - started
    assert Role.objects.get(pk=role.pk).status == PENDING
    assert "left for the relay" in caplog.text
    message = OutboxMessage.objects.get()
    assert (message.task, message.args, message.done_at, message.dispatched_at) == (
        "sites.tasks.notify_role_request",
        [role.pk],
        None,
        None,
    )
    assert "Connection refused" in message.last_error
    assert elapsed < 2, "a request must not wait on a broker that is down"


# --- grant / reject --------------------------------------------------------------------------


def pending(world, user="alice", entity="site", role_type="SITE_ADMIN"):
    return grant(world[user], role_type, world[entity], status=PENDING)


def test_ngi_manager_grants_on_a_site_of_their_ngi(world):
    role = pending(world)
    services.grant_role(world["ngi_man"], role)
    role.refresh_from_db()
    assert role.status == GRANTED
    entry = AuditLog.objects.get(object_id=role.pk, action=AuditAction.ROLE_GRANT)
    assert entry.user == world["ngi_man"]
    assert (entry.before["status"], entry.after["status"]) == (PENDING, GRANTED)


def test_site_manager_grants_on_own_site(world):
    boss = UserFactory()
    grant(boss, "SITE_OPS_MAN", world["site"])
    role = pending(world)
    services.grant_role(boss, role)
    assert Role.objects.get(pk=role.pk).status == GRANTED


def test_site_admin_cannot_grant_on_own_site(world):
    role = pending(world)
    with pytest.raises(PermissionDenied, match="You may not grant roles over SITE-A"):
        services.grant_role(world["site_admin"], role)
    assert Role.objects.get(pk=role.pk).status == PENDING
    assert audit_actions(role.pk) == []


def test_other_ngis_manager_cannot_grant_or_reject(world):
    role = pending(world)
    with pytest.raises(PermissionDenied):
        services.grant_role(world["other_ngi_man"], role)
    with pytest.raises(PermissionDenied):
        services.reject_role(world["other_ngi_man"], role)
    assert Role.objects.get(pk=role.pk).status == PENDING


def test_project_role_grants_on_ngi_but_not_on_site(world):
    coo = UserFactory()
    grant(coo, "COD_ADMIN", world["project"])
    ngi_role = pending(world, entity="ngi", role_type="NGI_SEC_OFFICER")
    services.grant_role(coo, ngi_role)
    assert Role.objects.get(pk=ngi_role.pk).status == GRANTED
    site_role = pending(world)
    with pytest.raises(PermissionDenied):
        services.grant_role(coo, site_role)  # project roles are not in the site's GRANT_ROLE mapping


def test_regional_staff_cannot_grant_on_their_ngi(world):
    rod = UserFactory()
    grant(rod, "REG_STAFF_ROD", world["ngi"])
    role = pending(world, entity="ngi", role_type="NGI_SEC_OFFICER")
    with pytest.raises(PermissionDenied):
        services.grant_role(rod, role)


def test_pending_role_does_not_give_rights(world):
    hopeful = UserFactory()
    grant(hopeful, "NGI_OPS_MAN", world["ngi"], status=PENDING)
    role = pending(world)
    with pytest.raises(PermissionDenied):
        services.grant_role(hopeful, role)


def test_service_group_admin_grants_there_and_ngi_manager_does_not(world):
    group = ServiceGroupFactory()
    admin = UserFactory()
    grant(admin, "SERVICE_GROUP_ADMIN", group)
    role = grant(world["alice"], "SERVICE_GROUP_ADMIN", group, status=PENDING)
    with pytest.raises(PermissionDenied):
        services.grant_role(world["ngi_man"], role)
    services.grant_role(admin, role)
    assert Role.objects.get(pk=role.pk).status == GRANTED


def test_superuser_grants_anywhere(world):
    root = UserFactory(is_superuser=True)
    role = pending(world)
    services.grant_role(root, role)
    assert Role.objects.get(pk=role.pk).status == GRANTED


def test_only_pending_roles_are_granted_or_rejected(world):
    granted = Role.objects.get(user=world["site_admin"])
    with pytest.raises(ValidationError, match="is not pending"):
        services.grant_role(world["ngi_man"], granted)
    with pytest.raises(ValidationError, match="is not pending"):
        services.reject_role(world["ngi_man"], granted)
    assert Role.objects.get(pk=granted.pk).status == GRANTED


def test_a_request_decided_meanwhile_gives_a_clear_error(world):
    role = pending(world)
    services.reject_role(world["ngi_man"], role)
    with pytest.raises(ValidationError, match="no longer exists"):
        services.grant_role(world["ngi_man"], role)


def test_reject_deletes_the_request_and_audits(world):
    role = pending(world)
    services.reject_role(world["ngi_man"], role)
    assert not Role.objects.filter(pk=role.pk).exists()
    entry = AuditLog.objects.get(object_id=role.pk, action=AuditAction.ROLE_REJECT)
    assert entry.after is None and entry.before["role_type"] == "SITE_ADMIN"


def test_site_admin_cannot_reject(world):
    role = pending(world)
    with pytest.raises(PermissionDenied):
        services.reject_role(world["site_admin"], role)
    assert Role.objects.filter(pk=role.pk).exists()


# --- revoke ----------------------------------------------------------------------------------


def test_holder_drops_own_role(world):
    role = Role.objects.get(user=world["site_admin"])
    services.revoke_role(world["site_admin"], role)
    assert not Role.objects.filter(pk=role.pk).exists()
    assert audit_actions(role.pk) == [AuditAction.ROLE_REVOKE]


def test_holder_withdraws_own_request_recorded_as_rejected(world):
    role = pending(world)
    services.revoke_role(world["alice"], role)
    assert not Role.objects.filter(pk=role.pk).exists()
    assert audit_actions(role.pk) == [AuditAction.ROLE_REJECT]


def test_ngi_manager_revokes_a_site_role(world):
    role = Role.objects.get(user=world["site_admin"])
    services.revoke_role(world["ngi_man"], role)
    assert not Role.objects.filter(pk=role.pk).exists()


def test_revoke_needs_revoke_role(world):
    role = Role.objects.get(user=world["ngi_man"])
    for intruder in (world["site_admin"], world["other_ngi_man"], world["alice"]):
        with pytest.raises(PermissionDenied, match="You may not revoke roles over NGI_A"):
            services.revoke_role(intruder, role)
    assert Role.objects.filter(pk=role.pk, status=GRANTED).exists()
    assert audit_actions(role.pk) == []


# --- pending queue, my roles -----------------------------------------------------------------


def test_pending_roles_for_follows_the_grant_rule(world):
    on_site = pending(world)
    on_ngi = pending(world, entity="ngi", role_type="NGI_SEC_OFFICER")
    on_other_site = pending(world, entity="other_site")
    on_project = pending(world, entity="project", role_type="COO")
    group = ServiceGroupFactory()
    on_group = grant(world["alice"], "SERVICE_GROUP_ADMIN", group, status=PENDING)
    coo = UserFactory()
    grant(coo, "COO", world["project"])

    assert set(services.pending_roles_for(world["ngi_man"])) == {on_site, on_ngi}
    assert set(services.pending_roles_for(world["other_ngi_man"])) == {on_other_site}
    assert set(services.pending_roles_for(coo)) == {on_ngi, on_project}
    assert list(services.pending_roles_for(world["site_admin"])) == []
    root = UserFactory(is_superuser=True)
    assert set(services.pending_roles_for(root)) == {on_site, on_ngi, on_other_site, on_project, on_group}


def test_pending_roles_for_is_one_query_whatever_the_rows(world):
    def measure():
        with CaptureQueriesContext(connection) as ctx:
            rows = list(services.pending_roles_for(world["ngi_man"]))
            names = [(str(r.user), str(r.owned_entity.concrete)) for r in rows]
        return len(ctx.captured_queries), len(names)

    pending(world)
    few = measure()
    for _ in range(12):
        grant(UserFactory(), "SITE_OPS_MAN", world["site"], status=PENDING)
        grant(UserFactory(), "NGI_SEC_OFFICER", world["ngi"], status=PENDING)
    many = measure()
    assert (few, many) == ((1, 1), (1, 25))


def test_roles_of_lists_granted_and_pending(world):
    mine = pending(world)
    assert set(services.roles_of(world["alice"])) == {mine}
    assert [r.status for r in services.roles_of(world["site_admin"])] == [GRANTED]


# --- notification recipients (§5.6) ----------------------------------------------------------


def test_site_request_goes_to_site_managers_first(world):
    boss = UserFactory(email="boss@example.org")
    grant(boss, "SITE_SECOFFICER", world["site"])
    assert services.role_request_recipients(pending(world)) == [boss]


def test_site_request_climbs_to_ngi_when_site_has_no_approver(world):
    # the site has a SITE_ADMIN only, who cannot grant: the NGI managers are asked
    assert services.role_request_recipients(pending(world)) == [world["ngi_man"]]


def test_request_climbs_to_projects_then_superusers(world):
    Role.objects.filter(user=world["ngi_man"]).delete()
    root = UserFactory(is_superuser=True, email="root@example.org")
    UserFactory(is_superuser=True, email="")  # no address, nobody to write to
    role = pending(world)
    assert services.role_request_recipients(role) == [root]
    coo = UserFactory()
    grant(coo, "COO", world["project"])
    assert services.role_request_recipients(role) == [coo]
    ngi_role = pending(world, entity="ngi", role_type="NGI_SEC_OFFICER")
    assert services.role_request_recipients(ngi_role) == [coo]


def test_inactive_approvers_are_not_written_to(world):
    world["ngi_man"].is_active = False
    world["ngi_man"].save()
    root = UserFactory(is_superuser=True)
    assert services.role_request_recipients(pending(world)) == [root]


def test_notification_mail(world, mailoutbox, settings):
    settings.PORTAL_URL = "https://portal.example.org"
    second = UserFactory(email="deputy@example.org")
    grant(second, "NGI_OPS_DEP_MAN", world["ngi"])
    role = pending(world)
    sent = services.send_role_request_notification(role.pk)
    assert sorted(sent) == sorted([world["ngi_man"].email, "deputy@example.org"])
    assert sorted(m.to[0] for m in mailoutbox) == sorted(sent)
    assert all(len(m.to) == 1 for m in mailoutbox)  # approvers do not see each other's addresses
    message = mailoutbox[0]
    assert message.subject == "Role request: Site Administrator over SITE-A"
    assert "https://portal.example.org/roles/requests/" in message.body
    assert "alice" in message.body and "Site Administrator" in message.body


def test_no_mail_for_a_request_decided_before_the_task_ran(world, mailoutbox):
    role = pending(world)
    services.grant_role(world["ngi_man"], role)
    assert services.send_role_request_notification(role.pk) == []
    assert services.send_role_request_notification(987654321) == []
    assert mailoutbox == []


def test_task_calls_the_service(world, eager_tasks, mailoutbox):
    from sites.tasks import notify_role_request

    role = pending(world)
    notify_role_request.delay(role.pk)
    assert [m.to for m in mailoutbox] == [[world["ngi_man"].email]]

"""Business rules of downtimes (specs/gocdb.md §7.1): endpoints.services.

Times are set relative to `timezone.now()` with margins of minutes, so no test depends on how many
seconds pass between building the data and the service reading the clock.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory
from endpoints import services as ops
from endpoints.models import Downtime
from endpoints.tests.factories import DowntimeFactory, EndpointFactory, ServiceFactory
from sites.tests.factories import NGIFactory, SiteFactory, grant

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture
def site():
    return SiteFactory()


@pytest.fixture
def service(site):
    return ServiceFactory(site=site)


@pytest.fixture
def admin(site):
    user = UserFactory()
    grant(user, "SITE_ADMIN", site)
    return user


def new(start, end, severity="OUTAGE", description="Kernel upgrade"):
    return Downtime(severity=severity, description=description, start=start, end=end)


def stored(start_offset, duration=4 * H, classification="UNSCHEDULED", service=None):
    start = timezone.now() + start_offset
    return DowntimeFactory(
        service=service, services=[service], start=start, end=start + duration, classification=classification
    )


def messages(exc_info):
    return " ".join(exc_info.value.messages)


# -- declare ---------------------------------------------------------------------------------------------


def test_declare_more_than_24h_ahead_is_scheduled(admin, service):
    start = timezone.now() + 24 * H + 5 * M
    dt = ops.save_downtime(admin, new(start, start + 2 * H), services=[service])
    dt.refresh_from_db()
    assert dt.classification == "SCHEDULED"
    assert dt.site == service.site
    assert dt.primary_key == f"{dt.pk}G0"
    assert list(dt.services.all()) == [service]


def test_declare_within_24h_is_unscheduled(admin, service):
    start = timezone.now() + 24 * H - 5 * M
    dt = ops.save_downtime(admin, new(start, start + 2 * H), services=[service])
    assert Downtime.objects.get(pk=dt.pk).classification == "UNSCHEDULED"


def test_declare_up_to_48h_in_the_past_is_allowed(admin, service):
    start = timezone.now() - 48 * H + 5 * M
    dt = ops.save_downtime(admin, new(start, start + 50 * H), services=[service])
    assert Downtime.objects.get(pk=dt.pk).classification == "UNSCHEDULED"


def test_declare_more_than_48h_in_the_past_is_refused(admin, service):
    start = timezone.now() - 48 * H - 5 * M
    with pytest.raises(ValidationError) as exc:
        ops.save_downtime(admin, new(start, start + 50 * H), services=[service])
    assert messages(exc) == "The requested start time of the downtime must be within the last 48 hrs"
    assert not Downtime.objects.exists()


@pytest.mark.parametrize("length", [timedelta(0), -H])
def test_declare_start_not_before_end_is_refused(admin, service, length):
    start = timezone.now() + 2 * H
    with pytest.raises(ValidationError) as exc:
        ops.save_downtime(admin, new(start, start + length), services=[service])
    assert messages(exc) == "A downtime cannot start after it's ended."
    assert not Downtime.objects.exists()


def test_declare_without_service_is_refused(admin):
    start = timezone.now() + H
    with pytest.raises(ValidationError) as exc:
        ops.save_downtime(admin, new(start, start + H), services=[])
    assert messages(exc) == "A downtime must affect at least one service"
    assert not Downtime.objects.exists() and not AuditLog.objects.exists()


def test_declare_services_of_two_sites_is_refused(admin, service, site):
    other = ServiceFactory()
    grant(admin, "SITE_ADMIN", other.site)
    start = timezone.now() + H
    with pytest.raises(ValidationError) as exc:
        ops.save_downtime(admin, new(start, start + H), services=[service, other])
    assert messages(exc) == "Downtime creation for multiple sites not supported yet"
    assert not Downtime.objects.exists()


def test_selecting_an_endpoint_adds_its_service(admin, service, site):
    endpoint = EndpointFactory(service=ServiceFactory(site=site))
    start = timezone.now() + H
    dt = ops.save_downtime(admin, new(start, start + H), services=[service], endpoints=[endpoint])
    assert set(dt.services.all()) == {service, endpoint.service}
    assert list(dt.endpoints.all()) == [endpoint]


def test_endpoint_alone_is_enough(admin, site):
    endpoint = EndpointFactory(service=ServiceFactory(site=site))
    start = timezone.now() + H
    dt = ops.save_downtime(admin, new(start, start + H), services=[], endpoints=[endpoint])
    assert list(dt.services.all()) == [endpoint.service]


def test_declare_is_audited_with_its_services(admin, service):
    start = timezone.now() + H
    dt = ops.save_downtime(admin, new(start, start + H), services=[service])
    row = AuditLog.objects.get(object_id=dt.pk, content_type__model="downtime")
    assert row.action == "create" and row.user == admin and row.before is None
    assert row.after["services"] == [str(service)]
    assert row.after["severity"] == "OUTAGE"


def test_other_sites_admin_may_not_declare(service):
    stranger = UserFactory()
    grant(stranger, "SITE_ADMIN", SiteFactory())
    start = timezone.now() + H
    with pytest.raises(PermissionDenied) as exc:
        ops.save_downtime(stranger, new(start, start + H), services=[service])
    assert str(service.site) in str(exc.value)
    assert not Downtime.objects.exists() and not AuditLog.objects.exists()


def test_anonymous_may_not_declare(service):
    start = timezone.now() + H
    with pytest.raises(PermissionDenied):
        ops.save_downtime(AnonymousUser(), new(start, start + H), services=[service])
    assert not Downtime.objects.exists()


def test_ngi_manager_of_the_sites_ngi_may_declare(service):
    manager = UserFactory()
    grant(manager, "NGI_OPS_MAN", service.site.ngi)
    start = timezone.now() + H
    assert ops.save_downtime(manager, new(start, start + H), services=[service]).pk


def test_manager_of_another_ngi_may_not_declare(service):
    manager = UserFactory()
    grant(manager, "NGI_OPS_MAN", NGIFactory())
    start = timezone.now() + H
    with pytest.raises(PermissionDenied):
        ops.save_downtime(manager, new(start, start + H), services=[service])


def test_pending_role_does_not_allow(service, site):
    user = UserFactory()
    grant(user, "SITE_ADMIN", site, status="STATUS_PENDING")
    start = timezone.now() + H
    with pytest.raises(PermissionDenied):
        ops.save_downtime(user, new(start, start + H), services=[service])


@pytest.mark.parametrize(
    "field,value",
    [
        ("description", "x" * 5000),
        ("description", "<script>alert(1)</script>"),
        ("description", ""),
        ("severity", "MAJOR"),
    ],
)
def test_declare_bad_fields_are_refused(admin, service, field, value):
    start = timezone.now() + H
    dt = new(start, start + H)
    setattr(dt, field, value)
    with pytest.raises(ValidationError) as exc:
        ops.save_downtime(admin, dt, services=[service])
    assert field in exc.value.message_dict
    assert not Downtime.objects.exists() and not AuditLog.objects.exists()


# -- edit ------------------------------------------------------------------------------------------------


def edit(actor, dt, start=None, end=None, services=None, endpoints=(), **fields):
    dt = Downtime.objects.get(pk=dt.pk)
    dt.start = start or dt.start
    dt.end = end or dt.end
    for name, value in fields.items():
        setattr(dt, name, value)
    return ops.save_downtime(
        actor, dt, services=services if services is not None else list(dt.services.all()), endpoints=endpoints
    )


def test_edit_shorten_ongoing_unscheduled(admin, service):
    dt = stored(-H, 4 * H, service=service)
    new_end = timezone.now() + H
    edited = edit(admin, dt, end=new_end, description="Shorter")
    edited.refresh_from_db()
    assert edited.end == new_end and edited.description == "Shorter"
    assert edited.classification == "UNSCHEDULED"
    row = AuditLog.objects.get(object_id=dt.pk, action="update")
    assert row.before["description"] == "Planned maintenance" and row.after["description"] == "Shorter"


def test_edit_ended_is_refused(admin, service):
    dt = stored(-5 * H, 2 * H, service=service)
    with pytest.raises(ValidationError) as exc:
        edit(admin, dt, description="Too late")
    assert messages(exc) == "Can't edit a downtime that has already finished."
    assert Downtime.objects.get(pk=dt.pk).description == "Planned maintenance"


def test_edit_scheduled_within_24h_is_refused(admin, service):
    dt = stored(24 * H - 5 * M, service=service, classification="SCHEDULED")
    with pytest.raises(ValidationError) as exc:
        edit(admin, dt, description="Changed")
    assert messages(exc) == "Cannot edit or delete a SCHEDULED downtime starting within 24 hours."
    assert not AuditLog.objects.exists()


def test_edit_scheduled_more_than_24h_ahead_is_allowed(admin, service):
    dt = stored(24 * H + 10 * M, service=service, classification="SCHEDULED")
    edited = edit(admin, dt, end=dt.end - H)
    assert Downtime.objects.get(pk=edited.pk).classification == "SCHEDULED"


def test_extension_is_refused(admin, service):
    dt = stored(2 * H, 4 * H, service=service)
    with pytest.raises(ValidationError) as exc:
        edit(admin, dt, end=dt.end + M)
    assert messages(exc) == "Downtimes can't be extended - please add a new downtime."
    assert Downtime.objects.get(pk=dt.pk).end == dt.end


def test_same_duration_moved_later_is_allowed(admin, service):
    dt = stored(2 * H, 4 * H, service=service)
    edited = edit(admin, dt, start=dt.start + H, end=dt.end + H)
    assert Downtime.objects.get(pk=edited.pk).start == dt.start + H


def test_moving_the_start_into_the_past_is_refused(admin, service):
    dt = stored(-H, 4 * H, service=service)
    with pytest.raises(ValidationError) as exc:
        edit(admin, dt, start=dt.start - 10 * M, end=dt.end - H)
    assert messages(exc) == "Downtime start date can only be changed to a date in the future"


def test_scheduled_may_not_move_within_24h(admin, service):
    dt = stored(72 * H, 4 * H, service=service, classification="SCHEDULED")
    start = timezone.now() + 24 * H - 5 * M
    with pytest.raises(ValidationError) as exc:
        edit(admin, dt, start=start, end=start + H)
    assert messages(exc) == "A SCHEDULED downtime can't start less than 24 hours from now."


def test_scheduled_may_move_to_just_over_24h(admin, service):
    dt = stored(72 * H, 4 * H, service=service, classification="SCHEDULED")
    start = timezone.now() + 24 * H + 10 * M
    edited = edit(admin, dt, start=start, end=start + H)
    assert Downtime.objects.get(pk=edited.pk).classification == "SCHEDULED"


def test_edit_reclassifies(admin, service):
    dt = stored(20 * H, 4 * H, service=service)
    start = timezone.now() + 30 * H
    edit(admin, dt, start=start, end=start + 2 * H)
    assert Downtime.objects.get(pk=dt.pk).classification == "SCHEDULED"


def test_edit_started_more_than_48h_ago_is_refused(admin, service):
    # GOCDB re-runs the create date checks on edit (open PR #309); "End now" remains possible.
    dt = stored(-50 * H, 100 * H, service=service)
    with pytest.raises(ValidationError) as exc:
        edit(admin, dt, end=dt.end - H)
    assert messages(exc) == "The requested start time of the downtime must be within the last 48 hrs"


def test_edit_replaces_links_and_adds_endpoint_services(admin, service, site):
    dt = stored(2 * H, service=service)
    endpoint = EndpointFactory(service=ServiceFactory(site=site))
    edit(admin, dt, services=[], endpoints=[endpoint])
    dt.refresh_from_db()
    assert list(dt.services.all()) == [endpoint.service]
    assert list(dt.endpoints.all()) == [endpoint]


def test_edit_without_services_is_refused_and_keeps_links(admin, service):
    dt = stored(2 * H, service=service)
    with pytest.raises(ValidationError) as exc:
        edit(admin, dt, services=[])
    assert messages(exc) == "A downtime must affect at least one service"
    assert list(Downtime.objects.get(pk=dt.pk).services.all()) == [service]


def test_edit_to_another_sites_services_needs_both_sites(admin, service):
    dt = stored(2 * H, service=service)
    other = ServiceFactory()
    with pytest.raises(PermissionDenied):
        edit(admin, dt, services=[other])
    grant(admin, "SITE_ADMIN", other.site)
    edit(admin, dt, services=[other])
    assert Downtime.objects.get(pk=dt.pk).site == other.site


def test_other_sites_admin_may_not_edit(service):
    dt = stored(2 * H, service=service)
    stranger = UserFactory()
    grant(stranger, "SITE_ADMIN", SiteFactory())
    with pytest.raises(PermissionDenied):
        edit(stranger, dt, description="Hijacked")
    assert Downtime.objects.get(pk=dt.pk).description == "Planned maintenance"


def test_edit_bad_description_changes_nothing(admin, service):
    dt = stored(2 * H, service=service)
    with pytest.raises(ValidationError):
        edit(admin, dt, end=dt.end - H, description="x" * 4001)
    assert Downtime.objects.get(pk=dt.pk).end == dt.end
    assert not AuditLog.objects.exists()


# -- end -------------------------------------------------------------------------------------------------


def test_end_ongoing_ends_a_minute_from_now(admin, service):
    dt = stored(-H, 10 * H, service=service)
    before = timezone.now()
    ops.end_downtime(admin, dt)
    end = Downtime.objects.get(pk=dt.pk).end
    assert before + 55 * timedelta(seconds=1) <= end <= timezone.now() + 60 * timedelta(seconds=1)
    row = AuditLog.objects.get(object_id=dt.pk)
    assert row.action == "downtime_end" and row.after["end"] != row.before["end"]


@pytest.mark.parametrize("offset,duration", [(H, H), (-3 * H, H)])
def test_end_refused_unless_ongoing(admin, service, offset, duration):
    dt = stored(offset, duration, service=service)
    with pytest.raises(ValidationError) as exc:
        ops.end_downtime(admin, dt)
    assert messages(exc) == "Downtime isn't on-going."
    assert Downtime.objects.get(pk=dt.pk).end == dt.end


def test_end_never_lengthens(admin, service):
    dt = stored(-H, H + 20 * timedelta(seconds=1), service=service)
    ops.end_downtime(admin, dt)
    assert Downtime.objects.get(pk=dt.pk).end == dt.end


def test_other_sites_admin_may_not_end(service):
    dt = stored(-H, 10 * H, service=service)
    stranger = UserFactory()
    grant(stranger, "SITE_OPS_MAN", SiteFactory())
    with pytest.raises(PermissionDenied):
        ops.end_downtime(stranger, dt)
    assert Downtime.objects.get(pk=dt.pk).end == dt.end


# -- delete ----------------------------------------------------------------------------------------------


def test_delete_future_unscheduled(admin, service):
    dt = stored(2 * H, service=service)
    ops.delete_downtime(admin, dt)
    assert not Downtime.objects.filter(pk=dt.pk).exists()
    row = AuditLog.objects.get(object_id=dt.pk)
    assert row.action == "delete" and row.after is None and row.before["services"] == [str(service)]


def test_delete_started_is_refused(admin, service):
    dt = stored(-M * 5, service=service)
    with pytest.raises(ValidationError) as exc:
        ops.delete_downtime(admin, dt)
    assert messages(exc) == "This downtime has already started."
    assert Downtime.objects.filter(pk=dt.pk).exists()


def test_delete_scheduled_within_24h_is_refused(admin, service):
    dt = stored(24 * H - 5 * M, service=service, classification="SCHEDULED")
    with pytest.raises(ValidationError) as exc:
        ops.delete_downtime(admin, dt)
    assert messages(exc) == "Cannot edit or delete a SCHEDULED downtime starting within 24 hours."
    assert Downtime.objects.filter(pk=dt.pk).exists() and not AuditLog.objects.exists()


def test_delete_scheduled_more_than_24h_ahead(admin, service):
    dt = stored(24 * H + 10 * M, service=service, classification="SCHEDULED")
    ops.delete_downtime(admin, dt)
    assert not Downtime.objects.filter(pk=dt.pk).exists()


def test_other_sites_admin_may_not_delete(service):
    dt = stored(2 * H, service=service)
    stranger = UserFactory()
    grant(stranger, "SITE_ADMIN", SiteFactory())
    with pytest.raises(PermissionDenied):
        ops.delete_downtime(stranger, dt)
    assert Downtime.objects.filter(pk=dt.pk).exists()


def test_superuser_may_delete(service):
    dt = stored(2 * H, service=service)
    ops.delete_downtime(UserFactory(is_superuser=True), dt)
    assert not Downtime.objects.filter(pk=dt.pk).exists()


# -- offered actions -------------------------------------------------------------------------------------


def test_allowed_actions_follow_the_rules(service):
    future = stored(2 * H, service=service)
    ongoing = stored(-H, 2 * H, service=service)
    locked = stored(23 * H, service=service, classification="SCHEDULED")
    ended = stored(-5 * H, H, service=service)
    assert ops.allowed_downtime_actions(future, True) == {"edit": True, "end": False, "delete": True}
    assert ops.allowed_downtime_actions(ongoing, True) == {"edit": True, "end": True, "delete": False}
    assert ops.allowed_downtime_actions(locked, True) == {"edit": False, "end": False, "delete": False}
    assert ops.allowed_downtime_actions(ended, True) == {"edit": False, "end": False, "delete": False}
    assert ops.allowed_downtime_actions(future, False) == {"edit": False, "end": False, "delete": False}

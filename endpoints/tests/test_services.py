"""Business rules of services and endpoint locations (specs/gocdb.md §2.5, §2.6, §5.5, §8)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory
from endpoints import services
from endpoints.models import Downtime, EndpointLocation, Service, ServiceType
from endpoints.tests.factories import DowntimeFactory, EndpointFactory, ServiceFactory, service_type
from sites.models import Scope
from sites.tests.factories import SiteFactory, grant

pytestmark = pytest.mark.django_db


def scope(name):
    return Scope.objects.get(name=name)


@pytest.fixture
def site():
    return SiteFactory()


@pytest.fixture
def site_admin(site):
    user = UserFactory()
    grant(user, "SITE_ADMIN", site)
    return user


@pytest.fixture
def other_admin():
    user = UserFactory()
    grant(user, "SITE_ADMIN", SiteFactory())
    return user


@pytest.fixture
def superuser():
    return UserFactory(is_superuser=True, is_staff=True)


def new_service(site, hostname="cloud.example.org", type_name="org.openstack.nova", **fields):
    values = {"description": "Compute", "production": True, "monitored": True, **fields}
    return Service(site=site, service_type=service_type(type_name), hostname=hostname, **values)


def audit_rows(obj, model=None):
    ct = ContentType.objects.get_for_model(model or type(obj))
    return AuditLog.objects.filter(content_type=ct, object_id=obj.pk).order_by("id")


# -- create --------------------------------------------------------------------------------------


def test_site_admin_creates_service_with_audit(site, site_admin):
    service = services.save_service(site_admin, new_service(site), scopes=[scope("EGI")])
    assert Service.objects.get(pk=service.pk).hostname == "cloud.example.org"
    assert [s.name for s in service.scopes.all()] == ["EGI"]
    (row,) = audit_rows(service)
    assert row.action == "create" and row.user == site_admin and row.before is None
    assert row.after["hostname"] == "cloud.example.org" and row.after["scopes"] == ["EGI"]


def test_ngi_manager_creates_service(site):
    manager = UserFactory()
    grant(manager, "NGI_OPS_MAN", site.ngi)
    service = services.save_service(manager, new_service(site), scopes=[scope("EGI")])
    assert service.pk is not None


@pytest.mark.parametrize("who", ["other_admin", "anonymous", "plain"])
def test_create_service_refused_without_role(site, other_admin, who):
    actor = {"other_admin": other_admin, "anonymous": AnonymousUser(), "plain": UserFactory()}[who]
    with pytest.raises(PermissionDenied, match="may not add services"):
        services.save_service(actor, new_service(site), scopes=[scope("EGI")])
    assert not Service.objects.exists() and not AuditLog.objects.exists()


def test_create_without_site_or_type_is_a_validation_error(site_admin):
    with pytest.raises(ValidationError) as exc:
        services.save_service(site_admin, Service(hostname="a.example.org", description="x"), scopes=[scope("EGI")])
    assert set(exc.value.message_dict) == {"site", "service_type"}


# -- (host, type) uniqueness ----------------------------------------------------------------------


def test_same_host_and_type_at_another_site_is_refused(site, site_admin):
    ServiceFactory(hostname="cloud.example.org", service_type=service_type())
    with pytest.raises(ValidationError) as exc:
        services.save_service(site_admin, new_service(site, hostname="CLOUD.example.org"), scopes=[scope("EGI")])
    assert exc.value.message_dict["hostname"] == [
        "A org.openstack.nova service named CLOUD.example.org already exists."
    ]
    assert Service.objects.count() == 1 and not AuditLog.objects.exists()


def test_same_host_and_type_in_the_same_site_is_allowed(site, site_admin):
    services.save_service(site_admin, new_service(site), scopes=[scope("EGI")])
    services.save_service(site_admin, new_service(site), scopes=[scope("EGI")])
    assert Service.objects.filter(hostname="cloud.example.org").count() == 2


def test_same_host_with_another_type_is_allowed(site, site_admin):
    ServiceFactory(hostname="cloud.example.org", service_type=service_type())
    services.save_service(site_admin, new_service(site, type_name="VOMS"), scopes=[scope("EGI")])
    assert Service.objects.filter(hostname="cloud.example.org").count() == 2


def test_update_keeps_own_host_and_type(site, site_admin):
    service = ServiceFactory(site=site)
    service.description = "Changed"
    services.save_service(site_admin, service, scopes=[scope("EGI")])
    assert Service.objects.get(pk=service.pk).description == "Changed"


# -- production implies monitored ----------------------------------------------------------------


def test_production_without_monitoring_is_refused(site, site_admin):
    with pytest.raises(ValidationError) as exc:
        services.save_service(site_admin, new_service(site, monitored=False), scopes=[scope("EGI")])
    assert "must be monitored" in exc.value.message_dict["monitored"][0]
    assert not Service.objects.exists()


@pytest.mark.parametrize("type_name", ["VOMS", "emi.ARGUS", "org.squid-cache.Squid"])
def test_hard_coded_exempt_types_may_be_unmonitored(site, site_admin, type_name):
    service = services.save_service(
        site_admin, new_service(site, type_name=type_name, monitored=False), scopes=[scope("EGI")]
    )
    assert service.production and not service.monitored


def test_type_with_monitoring_exception_may_be_unmonitored(site, site_admin):
    exempt = ServiceType.objects.create(name="test.exempt", description="Exempt", monitoring_exception=True)
    assert exempt.monitoring_exempt
    service = services.save_service(
        site_admin, new_service(site, type_name="test.exempt", monitored=False), scopes=[scope("EGI")]
    )
    assert not service.monitored


def test_non_production_service_may_be_unmonitored(site, site_admin):
    service = services.save_service(
        site_admin, new_service(site, production=False, monitored=False), scopes=[scope("EGI")]
    )
    assert not service.monitored


# -- scopes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("names", [[], ["wlcg"]])
def test_minimum_non_reserved_scopes(site, superuser, names):
    site.scopes.add(scope("wlcg"))
    with pytest.raises(ValidationError) as exc:
        services.save_service(superuser, new_service(site), scopes=[scope(n) for n in names])
    assert "non-reserved" in exc.value.message_dict["scopes"][0]
    assert not Service.objects.exists()


def test_minimum_scopes_follows_the_setting(site, site_admin, settings):
    settings.MINIMUM_SCOPES = 2
    with pytest.raises(ValidationError):
        services.save_service(site_admin, new_service(site), scopes=[scope("EGI")])
    service = services.save_service(site_admin, new_service(site), scopes=[scope("EGI"), scope("Local")])
    assert service.scopes.count() == 2


def test_reserved_scope_not_on_the_site_is_refused(site, site_admin):
    with pytest.raises(ValidationError) as exc:
        services.save_service(site_admin, new_service(site), scopes=[scope("EGI"), scope("wlcg")])
    assert "wlcg" in exc.value.message_dict["scopes"][0] and "site" in exc.value.message_dict["scopes"][0]
    assert not Service.objects.exists()


def test_reserved_scope_of_the_site_is_allowed(site, site_admin):
    site.scopes.add(scope("wlcg"))
    service = services.save_service(site_admin, new_service(site), scopes=[scope("EGI"), scope("wlcg")])
    assert {s.name for s in service.scopes.all()} == {"EGI", "wlcg"}


def test_admin_may_assign_any_reserved_scope(site, superuser):
    service = services.save_service(superuser, new_service(site), scopes=[scope("EGI"), scope("wlcg")])
    assert service.scopes.filter(name="wlcg").exists()


def test_reserved_scope_the_service_already_has_may_stay(site, site_admin):
    service = ServiceFactory(site=site, scopes=[scope("EGI"), scope("wlcg")])
    service.description = "Still tagged"
    services.save_service(site_admin, service, scopes=[scope("EGI"), scope("wlcg")])
    assert service.scopes.filter(name="wlcg").exists()


# -- update and move -----------------------------------------------------------------------------


def test_update_writes_before_and_after(site, site_admin):
    service = ServiceFactory(site=site, description="Old text")
    service.description = "New text"
    services.save_service(site_admin, service, scopes=[scope("EGI"), scope("Local")])
    (row,) = audit_rows(service)
    assert row.action == "update"
    assert row.before["description"] == "Old text" and row.after["description"] == "New text"
    assert row.before["scopes"] == ["EGI"] and row.after["scopes"] == ["EGI", "Local"]


def test_update_refused_for_admin_of_another_site(site, other_admin):
    service = ServiceFactory(site=site, description="Old text")
    service.description = "Hijacked"
    with pytest.raises(PermissionDenied):
        services.save_service(other_admin, service, scopes=[scope("EGI")])
    assert Service.objects.get(pk=service.pk).description == "Old text"
    assert not AuditLog.objects.exists()


def test_failed_rule_on_update_changes_nothing(site, site_admin):
    service = ServiceFactory(site=site)
    service.monitored = False
    with pytest.raises(ValidationError):
        services.save_service(site_admin, service, scopes=[scope("Local")])
    stored = Service.objects.get(pk=service.pk)
    assert stored.monitored and [s.name for s in stored.scopes.all()] == ["EGI"]
    assert not AuditLog.objects.exists()


def test_moving_a_service_is_admin_only(site, site_admin, superuser):
    target = SiteFactory()
    grant(site_admin, "SITE_ADMIN", target)
    service = ServiceFactory(site=site)
    service.site = target
    with pytest.raises(PermissionDenied, match="administrators"):
        services.save_service(site_admin, service, scopes=[scope("EGI")])
    assert Service.objects.get(pk=service.pk).site == site
    services.save_service(superuser, service, scopes=[scope("EGI")])
    assert Service.objects.get(pk=service.pk).site == target


def test_move_refused_while_a_future_downtime_holds_the_service(site, superuser):
    service = ServiceFactory(site=site)
    DowntimeFactory(service=service)
    service.site = SiteFactory()
    with pytest.raises(ValidationError) as exc:
        services.save_service(superuser, service, scopes=[scope("EGI")])
    assert "downtimes" in exc.value.message_dict["site"][0]
    assert Service.objects.get(pk=service.pk).site == site


# -- delete --------------------------------------------------------------------------------------


def test_delete_removes_downtimes_of_only_this_service(site, site_admin):
    service, other = ServiceFactory(site=site), ServiceFactory(site=site)
    endpoint = EndpointFactory(service=service)
    own = DowntimeFactory(service=service, services=[service])
    shared = DowntimeFactory(service=service, services=[service, other])
    unrelated = DowntimeFactory(service=other, services=[other])
    service_pk = service.pk
    services.delete_service(site_admin, service)
    assert not Service.objects.filter(pk=service_pk).exists()
    assert not EndpointLocation.objects.filter(pk=endpoint.pk).exists()
    assert not Downtime.objects.filter(pk=own.pk).exists()
    assert list(Downtime.objects.get(pk=shared.pk).services.all()) == [other]
    assert Downtime.objects.filter(pk=unrelated.pk).exists()
    deleted = AuditLog.objects.filter(action="delete")
    assert {r.content_type.model for r in deleted} == {"service", "downtime"}
    service_row = deleted.get(content_type__model="service")
    assert service_row.after is None and service_row.before["hostname"] == service.hostname


def test_ngi_manager_deletes_service(site):
    manager = UserFactory()
    grant(manager, "NGI_OPS_DEP_MAN", site.ngi)
    service = ServiceFactory(site=site)
    services.delete_service(manager, service)
    assert not Service.objects.exists()


def test_delete_refused_for_admin_of_another_site(site, other_admin):
    service = ServiceFactory(site=site)
    DowntimeFactory(service=service)
    with pytest.raises(PermissionDenied):
        services.delete_service(other_admin, service)
    assert Service.objects.filter(pk=service.pk).exists() and Downtime.objects.count() == 1
    assert not AuditLog.objects.exists()


# -- endpoint locations ---------------------------------------------------------------------------


def new_endpoint(service, name="main", **fields):
    return EndpointLocation(service=service, name=name, url="https://cloud.example.org:5000/v3", **fields)


def test_create_endpoint_defaults_interface_to_type_name(site, site_admin):
    service = ServiceFactory(site=site)
    endpoint = services.save_endpoint(site_admin, new_endpoint(service))
    assert endpoint.interface_name == "org.openstack.nova"
    (row,) = audit_rows(endpoint)
    assert row.action == "create" and row.after["interface_name"] == "org.openstack.nova"


def test_explicit_interface_name_is_kept(site, site_admin):
    endpoint = services.save_endpoint(site_admin, new_endpoint(ServiceFactory(site=site), interface_name="OCCI"))
    assert endpoint.interface_name == "OCCI"


def test_endpoint_name_unique_within_its_service(site, site_admin):
    service = ServiceFactory(site=site)
    services.save_endpoint(site_admin, new_endpoint(service, name="main"))
    with pytest.raises(ValidationError) as exc:
        services.save_endpoint(site_admin, new_endpoint(service, name=" main "))
    assert exc.value.message_dict["name"] == [f"Service {service} already has an endpoint named main."]
    assert service.endpoints.count() == 1
    services.save_endpoint(site_admin, new_endpoint(ServiceFactory(site=site), name="main"))
    assert EndpointLocation.objects.filter(name="main").count() == 2


def test_empty_endpoint_name_is_refused(site, site_admin):
    with pytest.raises(ValidationError) as exc:
        services.save_endpoint(site_admin, new_endpoint(ServiceFactory(site=site), name="  "))
    assert "name" in exc.value.message_dict
    assert not EndpointLocation.objects.exists()


def test_endpoint_writes_need_edit_on_the_site(site, other_admin):
    service = ServiceFactory(site=site)
    with pytest.raises(PermissionDenied):
        services.save_endpoint(other_admin, new_endpoint(service))
    endpoint = EndpointFactory(service=service, name="keep")
    endpoint.name = "renamed"
    with pytest.raises(PermissionDenied):
        services.save_endpoint(other_admin, endpoint)
    with pytest.raises(PermissionDenied):
        services.delete_endpoint(other_admin, endpoint)
    assert list(EndpointLocation.objects.values_list("name", flat=True)) == ["keep"]
    assert not AuditLog.objects.exists()


def test_ngi_manager_edits_endpoints(site):
    manager = UserFactory()
    grant(manager, "REG_STAFF_ROD", site.ngi)
    endpoint = services.save_endpoint(manager, new_endpoint(ServiceFactory(site=site)))
    endpoint.description = "Keystone"
    services.save_endpoint(manager, endpoint)
    services.delete_endpoint(manager, endpoint)
    assert [r.action for r in AuditLog.objects.order_by("id")] == ["create", "update", "delete"]


def test_update_endpoint_audits_and_cannot_move(site, site_admin):
    endpoint = EndpointFactory(service=ServiceFactory(site=site), name="old")
    endpoint.name = "new"
    services.save_endpoint(site_admin, endpoint)
    (row,) = audit_rows(endpoint)
    assert row.before["name"] == "old" and row.after["name"] == "new"
    endpoint.service = ServiceFactory(site=site)
    with pytest.raises(ValidationError) as exc:
        services.save_endpoint(site_admin, endpoint)
    assert "moved" in exc.value.message_dict["service"][0]


def test_rename_endpoint_onto_a_sibling_name_is_refused(site, site_admin):
    service = ServiceFactory(site=site)
    EndpointFactory(service=service, name="a")
    endpoint = EndpointFactory(service=service, name="b")
    endpoint.name = "a"
    with pytest.raises(ValidationError):
        services.save_endpoint(site_admin, endpoint)
    assert EndpointLocation.objects.get(pk=endpoint.pk).name == "b"


def test_delete_endpoint_audits(site, site_admin):
    endpoint = EndpointFactory(service=ServiceFactory(site=site))
    pk = endpoint.pk
    services.delete_endpoint(site_admin, endpoint)
    assert not EndpointLocation.objects.filter(pk=pk).exists()
    row = AuditLog.objects.get(action="delete")
    assert row.object_id == pk and row.before["name"] == endpoint.name


def test_past_downtime_does_not_block_a_move(site, superuser):
    service = ServiceFactory(site=site)
    start = timezone.now() - timedelta(days=10)
    DowntimeFactory(service=service, start=start, end=start + timedelta(hours=2))
    service.site = SiteFactory()
    services.save_service(superuser, service, scopes=[scope("EGI")])
    assert Service.objects.get(pk=service.pk).site == service.site

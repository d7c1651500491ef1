"""REST API of service types, services, endpoints, service groups, downtimes and their properties: the
generic tests, plus the GOCDB rules, filters, bulk property writes and permissions of each."""

import itertools
import time
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from egiportal.api import testcases
from egiportal.api.testcases import APIModelTests, api
from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory
from endpoints import services as endpoint_services
from endpoints.models import (
    Downtime,
    EndpointLocation,
    EndpointProperty,
    Service,
    ServiceGroup,
    ServiceGroupProperty,
    ServiceProperty,
    ServiceType,
)
from endpoints.tests.factories import (
    DowntimeFactory,
    EndpointFactory,
    ServiceFactory,
    ServiceGroupFactory,
    service_type,
)
from sites.choices import RoleType
from sites.models import Scope
from sites.tests.factories import SiteFactory, egi_scope, user_with

NAMED_BRIEF = ["display", "id", "url"]
counter = itertools.count(1)


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def site_admin(site):
    return user_with(RoleType.SITE_ADMIN, site)


def group_with_scopes(**kwargs):
    group = ServiceGroupFactory(**kwargs)
    group.scopes.set([egi_scope()])
    return group


def local_scope():
    return Scope.objects.get_or_create(name="Local")[0]


def ids(reply):
    assert reply.status_code == 200, reply.content
    return sorted(row["id"] for row in reply.json()["results"])


# ------------------------------------------------------------------------------------------------
# The generic tests, one class per endpoint
# ------------------------------------------------------------------------------------------------


class TestServiceTypeAPI(APIModelTests):
    model = ServiceType
    path = "/api/v1/service-types/"
    brief_fields = [*NAMED_BRIEF, "name"]
    update_data = {"description": "Changed by the API"}

    def make(self):
        return ServiceType.objects.create(name=f"org.example.type{next(counter)}", description="A type")

    def create_data(self):
        return {"name": "org.example.new", "description": "From the API"}, UserFactory(is_superuser=True)

    def allowed_user(self, obj):
        return UserFactory(is_superuser=True)

    def other_user(self, obj):
        return site_admin(SiteFactory())


class SiteOwned:
    """Objects of one site: its site administrator writes them, another site's administrator may not."""

    def site_of(self, obj):
        return obj.site

    def allowed_user(self, obj):
        return site_admin(self.site_of(obj))

    def other_user(self, obj):
        return site_admin(SiteFactory())


class TestServiceAPI(SiteOwned, APIModelTests):
    model = Service
    path = "/api/v1/services/"
    brief_fields = [*NAMED_BRIEF, "hostname"]
    update_data = {"description": "Changed by the API"}

    def make(self):
        service = ServiceFactory()
        EndpointFactory(service=service)
        service.properties.create(key="k", value="v")
        return service

    def create_data(self):
        site = SiteFactory()
        body = {
            "site": site.short_name,
            "service_type": service_type().name,
            "hostname": "api-made.example.org",
            "description": "Made through the API",
            "service_url": "https://api-made.example.org/",
            "scopes": ["EGI"],
        }
        return body, site_admin(site)


class TestEndpointAPI(SiteOwned, APIModelTests):
    model = EndpointLocation
    path = "/api/v1/endpoints/"
    brief_fields = [*NAMED_BRIEF, "name"]
    update_data = {"description": "Changed by the API"}

    def site_of(self, endpoint):
        return endpoint.service.site

    def make(self):
        endpoint = EndpointFactory()
        endpoint.properties.create(key="k", value="v")
        return endpoint

    def create_data(self):
        service = ServiceFactory()
        body = {"service": service.pk, "name": "api-endpoint", "endpoint_url": f"https://{service.hostname}/v1"}
        return body, site_admin(service.site)


class TestServiceGroupAPI(APIModelTests):
    model = ServiceGroup
    path = "/api/v1/service-groups/"
    brief_fields = [*NAMED_BRIEF, "name"]
    update_data = {"description": "Changed by the API"}

    def make(self):
        group = group_with_scopes()
        group.services.add(ServiceFactory())
        group.properties.create(key="k", value="v")
        return group

    def create_data(self):
        body = {"name": "api_group", "description": "From the API", "scopes": ["EGI"], "services": []}
        return body, UserFactory()

    def allowed_user(self, group):
        return user_with(RoleType.SERVICE_GROUP_ADMIN, group)

    def other_user(self, group):
        return user_with(RoleType.SERVICE_GROUP_ADMIN, group_with_scopes())


class TestDowntimeAPI(SiteOwned, APIModelTests):
    model = Downtime
    path = "/api/v1/downtimes/"
    brief_fields = [*NAMED_BRIEF, "end", "severity", "start"]
    update_data = {"description": "Changed by the API"}

    def make(self):
        downtime = DowntimeFactory()
        downtime.endpoints.set([EndpointFactory(service=downtime.services.get())])
        return downtime

    def create_data(self):
        service = ServiceFactory()
        start = timezone.now() + timedelta(days=3)
        body = {
            "services": [service.pk],
            "severity": "OUTAGE",
            "description": "Through the API",
            "start": iso(start),
            "end": iso(start + timedelta(hours=2)),
        }
        return body, site_admin(service.site)


class AuditedOnParent:
    """set_properties and delete_properties audit the parent (whose snapshot lists its properties), so
    the generic tests look for the audit rows of a property's parent."""

    def audited(self, prop):
        return testcases.audit_rows(prop.parent)

    def make(self):
        return self.model.objects.create(parent=self.make_parent(), key=f"key{next(counter)}", value="v")

    def create_data(self):
        parent = self.make_parent()
        return {"parent": parent.pk, "key": "new.key", "value": "new value"}, self.allowed_user_of(parent)

    def allowed_user(self, prop):
        return self.allowed_user_of(prop.parent)


class TestServicePropertyAPI(AuditedOnParent, APIModelTests):
    model = ServiceProperty
    path = "/api/v1/service-properties/"
    brief_fields = [*NAMED_BRIEF, "key"]
    update_data = {"value": "changed"}

    def make_parent(self):
        return ServiceFactory()

    def allowed_user_of(self, service):
        return site_admin(service.site)

    def other_user(self, prop):
        return site_admin(SiteFactory())


class TestEndpointPropertyAPI(AuditedOnParent, APIModelTests):
    model = EndpointProperty
    path = "/api/v1/endpoint-properties/"
    brief_fields = [*NAMED_BRIEF, "key"]
    update_data = {"value": "changed"}

    def make_parent(self):
        return EndpointFactory()

    def allowed_user_of(self, endpoint):
        return site_admin(endpoint.service.site)

    def other_user(self, prop):
        return site_admin(SiteFactory())


class TestServiceGroupPropertyAPI(AuditedOnParent, APIModelTests):
    model = ServiceGroupProperty
    path = "/api/v1/service-group-properties/"
    brief_fields = [*NAMED_BRIEF, "key"]
    update_data = {"value": "changed"}

    def make_parent(self):
        return group_with_scopes()

    def allowed_user_of(self, group):
        return user_with(RoleType.SERVICE_GROUP_ADMIN, group)

    def other_user(self, prop):
        return user_with(RoleType.SERVICE_GROUP_ADMIN, group_with_scopes())


# ------------------------------------------------------------------------------------------------
# Properties: bulk creates, limits, filters
# ------------------------------------------------------------------------------------------------

PROPS = "/api/v1/service-properties/"


def bulk_body(parents, per_parent):
    return [{"parent": p.pk, "key": f"bulk.key{i}", "value": f"value {i}"} for p in parents for i in range(per_parent)]


def parent_audits(parent):
    return AuditLog.objects.filter(content_type=ContentType.objects.get_for_model(parent), object_id=parent.pk)


@pytest.mark.django_db
def test_bulk_property_create_is_all_or_nothing(client):
    site = SiteFactory()
    parents = [ServiceFactory(site=site) for _ in range(3)]
    client.force_login(site_admin(site))
    body = bulk_body(parents, 20)
    body[37]["key"] = "bad key;"
    refused = api(client, "POST", PROPS, body)
    assert refused.status_code == 400
    errors = refused.json()
    assert len(errors) == 60 and "key" in errors[37]
    assert not any(errors[:37] + errors[38:])
    assert not ServiceProperty.objects.filter(parent__in=parents).exists()
    assert not any(parent_audits(p).exists() for p in parents)

    body[37]["key"] = "bulk.key17"
    created = api(client, "POST", PROPS, body)
    assert created.status_code == 201, created.content
    assert [(r["parent"]["id"], r["key"], r["value"]) for r in created.json()] == [
        (i["parent"], i["key"], i["value"]) for i in body
    ]
    assert created.json()[0]["parent"]["display"] == str(parents[0])
    for parent in parents:
        assert parent.properties.count() == 20
        [row] = parent_audits(parent)  # one set_properties call per parent
        assert len(row.after["properties"]) == 20


@pytest.mark.django_db
def test_bulk_property_create_refuses_existing_and_repeated_keys(client):
    """A key given twice is invalid input (400); a key the parent has clashes with stored data (409).
    Invalid input is answered first; each refusal at its item's position, and nothing is written."""
    service = ServiceFactory()
    service.properties.create(key="taken", value="old")
    client.force_login(site_admin(service.site))
    body = [
        {"parent": service.pk, "key": "fresh", "value": "1"},
        {"parent": service.pk, "key": "taken", "value": "2"},
        {"parent": str(service.pk), "key": "fresh", "value": "3"},
    ]
    reply = api(client, "POST", PROPS, body)
    assert reply.status_code == 400
    assert reply.json() == [{}, {}, {"key": [f"Property fresh of {service} is given more than once."]}]
    assert dict(service.properties.values_list("key", "value")) == {"taken": "old"}
    reply = api(client, "POST", PROPS, body[:2])
    assert reply.status_code == 409
    assert reply.json() == [{}, {"key": [f"Property taken of {service} already exists."]}]
    assert dict(service.properties.values_list("key", "value")) == {"taken": "old"}
    single = api(client, "POST", PROPS, {"parent": service.pk, "key": "taken", "value": "x"})
    assert single.status_code == 409 and single.json() == {"key": [f"Property taken of {service} already exists."]}
    assert not AuditLog.objects.exists()


@pytest.mark.django_db
def test_bulk_property_refusals_over_several_parents_write_nothing(client):
    """Each parent's refusal is answered at its items' positions; the parents that passed are undone."""
    first = ServiceFactory()
    site = first.site
    second, third = ServiceFactory(site=site), ServiceFactory(site=site)
    second.properties.create(key="a", value="old")
    third.properties.create(key="b", value="old")
    client.force_login(site_admin(site))
    body = [
        {"parent": first.pk, "key": "a", "value": "1"},
        {"parent": second.pk, "key": "a", "value": "2"},
        {"parent": third.pk, "key": "b", "value": "3"},
        {"parent": first.pk, "key": "c", "value": "4"},
    ]
    reply = api(client, "POST", PROPS, body)
    assert reply.status_code == 409
    assert reply.json() == [
        {},
        {"key": [f"Property a of {second} already exists."]},
        {"key": [f"Property b of {third} already exists."]},
        {},
    ]
    assert not first.properties.exists() and not AuditLog.objects.exists()
    body += [{"parent": third.pk, "key": "x" * 300, "value": "v"}]
    oversized = api(client, "POST", PROPS, body)
    assert oversized.status_code == 400 and "key" in oversized.json()[4]
    assert not first.properties.exists()


@pytest.mark.django_db
def test_the_21st_property_of_a_parent_is_refused(client, settings):
    assert settings.MAX_PROPERTIES_PER_ENTITY == 20
    service = ServiceFactory()
    for i in range(20):
        service.properties.create(key=f"k{i}", value="v")
    client.force_login(site_admin(service.site))
    reply = api(client, "POST", PROPS, {"parent": service.pk, "key": "k20", "value": "v"})
    assert reply.status_code == 400
    assert reply.json() == {"detail": [f"{service}: Property(s) could not be added due to the property limit of 20."]}
    assert service.properties.count() == 20
    other = ServiceFactory(site=service.site)
    too_many = api(client, "POST", PROPS, bulk_body([other], 21))
    assert too_many.status_code == 400 and "limit of 20" in too_many.json()["detail"][0]
    assert not other.properties.exists()


@pytest.mark.django_db
def test_bulk_property_create_is_fast(client):
    """1,000 properties over 50 parents, one set_properties per parent: under 2 s (the target is for
    PostgreSQL; SQLite is faster). Up to five tries; if the machine is so busy with other work that
    none is under 2 s of wall time, the portal process's own CPU time must be (waiting for a CPU is
    not the request's cost). The query count is the load-independent half of the check."""
    site = SiteFactory()
    parents = [ServiceFactory(site=site) for _ in range(50)]
    client.force_login(site_admin(site))
    body = bulk_body(parents, 20)
    assert api(client, "GET", PROPS).status_code == 200  # a running server has its code loaded
    tries = []  # (wall, cpu) seconds
    while len(tries) < 5 and not any(wall < 2.0 for wall, _ in tries):
        ServiceProperty.objects.all().delete()
        wall, cpu = time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as queries:
            reply = api(client, "POST", PROPS, body)
        tries.append((time.perf_counter() - wall, time.process_time() - cpu))
        assert reply.status_code == 201, reply.content[:300]
        assert ServiceProperty.objects.filter(parent__in=parents).count() == 1000
        # An INSERT per property (inside set_properties); the rest is per parent, not per item.
        assert len(queries) <= 1000 + 12 * len(parents), len(queries)
    assert min(wall for wall, _ in tries) < 2.0 or min(cpu for _, cpu in tries) < 2.0, tries


@pytest.mark.django_db
def test_bulk_property_writes_check_permission_and_size(client):
    mine, theirs = ServiceFactory(), ServiceFactory()
    client.force_login(site_admin(mine.site))
    body = [{"parent": mine.pk, "key": "a", "value": "1"}, {"parent": theirs.pk, "key": "a", "value": "1"}]
    refused = api(client, "POST", PROPS, body)
    assert refused.status_code == 403
    assert not ServiceProperty.objects.exists()
    assert api(client, "POST", PROPS, bulk_body([mine], 1001)).status_code == 400
    assert api(client, "POST", PROPS, []).status_code == 400
    assert api(client, "POST", PROPS, ["key=value"]).status_code == 400
    assert api(client, "POST", PROPS, "key=value").status_code == 400
    assert not ServiceProperty.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "item, field",
    [
        ({"key": "it's"}, "key"),
        ({"key": "k" * 256}, "key"),
        ({"key": ""}, "key"),
        ({"value": "<script>"}, "value"),
        ({"value": "v" * 256}, "value"),
        ({"value": None}, "value"),
        ({"parent": 999999999}, "parent"),
        ({"parent": "x" * 10_000}, "parent"),
        ({"parent": {"hostname__startswith": "host"}}, "parent"),
        ({"parent": True}, "parent"),
        ({"parent": [1]}, "parent"),
    ],
)
def test_property_bad_input_is_400_and_saves_nothing(client, item, field):
    service = ServiceFactory()
    client.force_login(site_admin(service.site))
    reply = api(client, "POST", PROPS, {"parent": service.pk, "key": "k", "value": "v", **item})
    assert reply.status_code == 400 and field in reply.json(), reply.content
    assert not ServiceProperty.objects.exists()


@pytest.mark.django_db
def test_property_update_changes_the_value_only_and_delete_removes_it(client):
    prop = ServiceProperty.objects.create(parent=ServiceFactory(), key="k", value="old")
    client.force_login(site_admin(prop.parent.site))
    path = f"{PROPS}{prop.pk}/"
    changed = api(client, "PUT", path, {"parent": prop.parent_id, "key": "k", "value": "  new  "})
    assert changed.status_code == 200 and changed.json()["value"] == "new"
    renamed = api(client, "PATCH", path, {"key": "other"})
    assert renamed.status_code == 400 and "key" in renamed.json()
    moved = api(client, "PATCH", path, {"parent": ServiceFactory().pk})
    assert moved.status_code == 400 and "parent" in moved.json()
    assert api(client, "PATCH", path, {"value": "it's"}).status_code == 400
    prop.refresh_from_db()
    assert (prop.key, prop.value) == ("k", "new")
    assert api(client, "DELETE", path).status_code == 204
    assert not ServiceProperty.objects.filter(pk=prop.pk).exists()
    assert [row.message for row in parent_audits(prop.parent).order_by("pk")] == [
        "Properties set",
        "Properties deleted",
    ]


@pytest.mark.django_db
def test_property_filters(client):
    one, two = ServiceFactory(), ServiceFactory()
    a = one.properties.create(key="wlcg.tier", value="2")
    b = two.properties.create(key="wlcg.tier", value="1")
    c = two.properties.create(key="other", value="x:y=z")
    assert ids(api(client, "GET", f"{PROPS}?key=wlcg.tier")) == sorted([a.pk, b.pk])
    assert ids(api(client, "GET", f"{PROPS}?parent_id={two.pk}")) == sorted([b.pk, c.pk])
    assert ids(api(client, "GET", f"{PROPS}?value=x:y=z")) == [c.pk]
    assert ids(api(client, "GET", f"{PROPS}?q=TIER&value__in=2,3")) == [a.pk]
    for bad in ("parent_id=x", "parent_id=-1", "created__gte=yesterday", "parent=1"):
        assert api(client, "GET", f"{PROPS}?{bad}").status_code == 400, bad


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path, make, related",
    [
        (PROPS, lambda: ServiceProperty.objects.create(parent=ServiceFactory(), key="k", value="v"), "parent"),
        (
            "/api/v1/endpoint-properties/",
            lambda: EndpointProperty.objects.create(parent=EndpointFactory(), key="k", value="v"),
            "parent",
        ),
        ("/api/v1/services/", ServiceFactory, "site"),
        ("/api/v1/downtimes/", DowntimeFactory, "services"),
    ],
)
@pytest.mark.parametrize("query", ["?brief=1", "?fields=id,display", "?fields=id,{related}"])
def test_brief_and_trimmed_lists_have_fixed_query_counts(client, path, make, related, query):
    """`display` needs joins (a service names its type, a downtime its site): they come with any field set."""
    query = query.format(related=related)
    make()
    with CaptureQueriesContext(connection) as few:
        assert api(client, "GET", path + query).status_code == 200
    for _ in range(5):
        make()
    with CaptureQueriesContext(connection) as many:
        reply = api(client, "GET", path + query)
    assert reply.status_code == 200 and len(reply.json()["results"]) == 6
    assert len(few) == len(many), [q["sql"][:150] for q in many.captured_queries]


# ------------------------------------------------------------------------------------------------
# Service types
# ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_deleting_a_service_type_in_use_is_409_with_its_dependents(client):
    used = service_type("org.example.used")
    ServiceFactory(service_type=used, hostname="dependent.example.org")
    reply = api(client, "DELETE", f"/api/v1/service-types/{used.pk}/", user=UserFactory(is_superuser=True))
    assert reply.status_code == 409
    assert reply.json()["dependents"] == ["service: dependent.example.org (org.example.used)"]
    assert ServiceType.objects.filter(pk=used.pk).exists()
    assert not testcases.audit_rows(used).exists()  # the delete's audit row went with the rollback


# ------------------------------------------------------------------------------------------------
# Services
# ------------------------------------------------------------------------------------------------

SERVICES = "/api/v1/services/"


def service_body(at, **changes):
    return {
        "site": at.short_name,
        "service_type": "org.openstack.nova",
        "hostname": "new.example.org",
        "description": "Through the API",
        **changes,
    }


@pytest.mark.django_db
def test_service_representation(client):
    service = ServiceFactory(url="https://cloud.example.org:5000/")
    endpoint = EndpointFactory(service=service)
    service.properties.create(key="wlcg.tier", value="2")
    shown = api(client, "GET", f"{SERVICES}{service.pk}/").json()
    assert shown["display"] == str(service)
    assert shown["url"].endswith(f"/api/v1/services/{service.pk}/")
    assert shown["service_url"] == "https://cloud.example.org:5000/"
    assert shown["site"]["name"] == service.site.short_name
    assert shown["service_type"] == {
        "id": service.service_type_id,
        "url": f"http://testserver/api/v1/service-types/{service.service_type_id}/",
        "display": "org.openstack.nova",
        "name": "org.openstack.nova",
    }
    assert [s["name"] for s in shown["scopes"]] == ["EGI"]
    assert shown["properties"] == {"wlcg.tier": "2"}
    assert shown["endpoints"] == [
        {
            "id": endpoint.pk,
            "url": f"http://testserver/api/v1/endpoints/{endpoint.pk}/",
            "display": endpoint.name,
            "name": endpoint.name,
        }
    ]


@pytest.mark.django_db
def test_service_site_and_type_by_name_or_id_and_scopes_default_to_the_site(client):
    site = SiteFactory(scopes=[egi_scope(), local_scope()])
    voms = service_type("VOMS")
    client.force_login(site_admin(site))
    created = api(client, "POST", SERVICES, service_body(site, site=site.pk, service_type=voms.pk))
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["site"]["id"], data["service_type"]["name"]) == (site.pk, "VOMS")
    assert sorted(s["name"] for s in data["scopes"]) == ["EGI", "Local"]
    assert data["endpoints"] == [] and data["properties"] == {}
    by_name = api(client, "POST", SERVICES, service_body(site, hostname="two.example.org", scopes=["Local"]))
    assert by_name.status_code == 201 and [s["name"] for s in by_name.json()["scopes"]] == ["Local"]


@pytest.mark.django_db
def test_production_service_must_be_monitored(client):
    service = ServiceFactory()
    client.force_login(site_admin(service.site))
    reply = api(client, "PATCH", f"{SERVICES}{service.pk}/", {"monitored": False})
    assert reply.status_code == 400
    assert reply.json() == {
        "monitored": [
            "A production service must be monitored (org.openstack.nova services are not exempt from monitoring)."
        ]
    }
    service.refresh_from_db()
    assert service.monitored
    assert (
        api(client, "PATCH", f"{SERVICES}{service.pk}/", {"monitored": False, "production": False}).status_code == 200
    )
    exempt = ServiceFactory(site=service.site, service_type=service_type("VOMS"))
    assert api(client, "PATCH", f"{SERVICES}{exempt.pk}/", {"monitored": False}).status_code == 200


@pytest.mark.django_db
def test_hostname_and_type_are_unique_across_sites(client):
    existing = ServiceFactory(hostname="shared.example.org")
    other_site = SiteFactory()
    client.force_login(site_admin(other_site))
    clash = api(client, "POST", SERVICES, service_body(other_site, hostname="SHARED.example.org"))
    assert clash.status_code == 409  # a clash with stored data (issue 10): 409, messages as for a 400
    assert clash.json() == {"hostname": ["A org.openstack.nova service named SHARED.example.org already exists."]}
    assert not Service.objects.filter(site=other_site).exists()
    # Another type on the same host is another service; the same type twice inside one site is allowed (§2.5).
    webdav = service_body(other_site, hostname="shared.example.org", service_type=service_type("webdav").name)
    assert api(client, "POST", SERVICES, webdav).status_code == 201
    client.force_login(site_admin(existing.site))
    assert api(client, "POST", SERVICES, service_body(existing.site, hostname="shared.example.org")).status_code == 201


@pytest.mark.django_db
def test_service_writes_follow_the_site_roles(client):
    service = ServiceFactory()
    other = SiteFactory()
    client.force_login(site_admin(other))
    refused = api(client, "POST", SERVICES, service_body(service.site))
    assert refused.status_code == 403
    assert refused.json()["detail"] == f"You may not add services to site {service.site}."
    client.force_login(site_admin(service.site))
    move = api(client, "PATCH", f"{SERVICES}{service.pk}/", {"site": other.short_name})
    assert move.status_code == 403 and "Only portal administrators" in move.json()["detail"]
    service.refresh_from_db()
    assert service.site_id != other.pk
    moved = api(
        client, "PATCH", f"{SERVICES}{service.pk}/", {"site": other.short_name}, user=UserFactory(is_superuser=True)
    )
    assert moved.status_code == 200 and moved.json()["site"]["id"] == other.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, field",
    [
        ({"hostname": "h" * 300 + ".example.org"}, "hostname"),
        ({"hostname": "host.example.org:8443"}, "hostname"),
        ({"hostname": "'; DROP TABLE x; --"}, "hostname"),
        ({"hostname": None}, "hostname"),
        ({"description": "<b>bold</b>"}, "description"),
        ({"site": "NO_SUCH_SITE"}, "site"),
        ({"site": {"short_name__startswith": "SITE"}}, "site"),
        ({"service_type": ["org.openstack.nova"]}, "service_type"),
        ({"scopes": ["no-such-scope"]}, "scopes"),
        ({"scopes": "EGI"}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"service_url": "x" * 300}, "service_url"),
        ({"service_url": "https://example.org/<script>"}, "service_url"),
        ({"ip_address": "999.1.1.1.1"}, "ip_address"),
        ({"ip_address": "300.1.1.1"}, "ip_address"),
        ({"service_url": "ftp//broken"}, "service_url"),
        ({"production": "maybe"}, "production"),
        ({"email": "not an address"}, "email"),
    ],
)
def test_service_bad_input_is_400_and_saves_nothing(client, change, field):
    site = SiteFactory()
    client.force_login(site_admin(site))
    reply = api(client, "POST", SERVICES, service_body(site, **change))
    assert reply.status_code == 400 and field in reply.json(), reply.content
    assert not Service.objects.exists()


@pytest.mark.django_db
def test_service_delete_takes_its_own_downtimes(client):
    downtime = DowntimeFactory()
    service = downtime.services.get()
    assert api(client, "DELETE", f"{SERVICES}{service.pk}/", user=site_admin(service.site)).status_code == 204
    assert not Downtime.objects.filter(pk=downtime.pk).exists()


@pytest.mark.django_db
def test_service_filters(client):
    egi, local = egi_scope(), local_scope()
    site = SiteFactory(short_name="FILTER-SITE")
    both = ServiceFactory(site=site, scopes=[egi, local])
    only_local = ServiceFactory(service_type=service_type("webdav"), scopes=[local])
    only_egi = ServiceFactory(scopes=[egi])
    both.properties.create(key="wlcg.tier", value="2")
    only_egi.properties.create(key="wlcg.tier", value="1:a=b")
    get = lambda query: ids(api(client, "GET", f"{SERVICES}?{query}"))  # noqa: E731
    assert get("service_type=webdav") == [only_local.pk]
    assert get(f"service_type_id={only_local.service_type_id}") == [only_local.pk]
    assert get("site=FILTER-SITE") == [both.pk]
    assert get(f"site=FILTER-SITE,{only_local.site.short_name}") == sorted([both.pk, only_local.pk])
    assert get("scope=EGI&scope=Local") == [both.pk]
    assert get("scope__any=Local") == sorted([both.pk, only_local.pk])
    assert get("scope__any=EGI&scope__any=Local") == sorted([both.pk, only_local.pk, only_egi.pk])
    assert get("scope=Local&scope__any=EGI") == [both.pk]
    assert get("property=wlcg.tier=2") == [both.pk]
    assert get("property=wlcg.tier:2") == [both.pk]
    assert get("property=wlcg.tier:1:a=b") == [only_egi.pk]
    assert get("property=wlcg.tier") == sorted([both.pk, only_egi.pk])
    assert get("property=wlcg.tier&property=other") == []
    assert get("q=FILTER-SITE") == []  # the quick search covers host, description and URL
    for bad in (
        "site=NO_SUCH",
        "service_type=nope",
        "scope__any=nope",
        "property=:2",
        "property==2",
        "production=maybe",
        "hostname=" + "x" * 300,
    ):
        assert api(client, "GET", f"{SERVICES}?{bad}").status_code == 400, bad[:40]


# ------------------------------------------------------------------------------------------------
# Endpoint locations
# ------------------------------------------------------------------------------------------------

ENDPOINTS = "/api/v1/endpoints/"


@pytest.mark.django_db
def test_endpoint_defaults_and_rules(client):
    service = ServiceFactory(monitored=True)
    taken = EndpointFactory(service=service, name="main")
    client.force_login(site_admin(service.site))
    created = api(client, "POST", ENDPOINTS, {"service": service.pk, "name": " second "})
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["name"], data["interface_name"], data["monitored"]) == ("second", "org.openstack.nova", True)
    assert data["service"]["display"] == str(service)
    clash = api(client, "POST", ENDPOINTS, {"service": service.pk, "name": "main"})
    assert clash.status_code == 409
    assert clash.json() == {"name": [f"Service {service} already has an endpoint named main."]}
    move = api(client, "PATCH", f"{ENDPOINTS}{taken.pk}/", {"service": ServiceFactory(site=service.site).pk})
    assert move.status_code == 400 and move.json() == {"service": ["An endpoint cannot be moved to another service."]}
    client.force_login(site_admin(SiteFactory()))
    refused = api(client, "POST", ENDPOINTS, {"service": service.pk, "name": "third"})
    assert refused.status_code == 403
    assert EndpointLocation.objects.filter(service=service).count() == 2


@pytest.mark.django_db
def test_endpoint_filters(client):
    one = EndpointFactory(service=ServiceFactory(site=SiteFactory(short_name="EP-SITE")))
    two = EndpointFactory(service=ServiceFactory(service_type=service_type("webdav")))
    one.properties.create(key="vo", value="atlas")
    get = lambda query: ids(api(client, "GET", f"{ENDPOINTS}?{query}"))  # noqa: E731
    assert get("site=EP-SITE") == [one.pk]
    assert get("service_type=webdav") == [two.pk]
    assert get(f"service_id={two.service_id}") == [two.pk]
    assert get("property=vo:atlas") == [one.pk]
    assert api(client, "GET", f"{ENDPOINTS}?service_id=abc").status_code == 400


# ------------------------------------------------------------------------------------------------
# Service groups
# ------------------------------------------------------------------------------------------------

GROUPS = "/api/v1/service-groups/"


@pytest.mark.django_db
def test_service_group_members_change_through_the_services(client):
    a, b, c = ServiceFactory(), ServiceFactory(), ServiceFactory()
    creator = UserFactory()
    client.force_login(creator)
    body = {"name": "api_group", "description": "Members", "scopes": ["EGI"], "services": [a.pk, b.pk]}
    created = api(client, "POST", GROUPS, body)
    assert created.status_code == 201, created.content
    group = ServiceGroup.objects.get(pk=created.json()["id"])
    assert sorted(s["id"] for s in created.json()["services"]) == [a.pk, b.pk]
    assert group.ownedentity_ptr.roles.filter(user=creator, role_type=RoleType.SERVICE_GROUP_ADMIN).exists()

    changed = api(client, "PATCH", f"{GROUPS}{group.pk}/", {"services": [b.pk, c.pk]})
    assert changed.status_code == 200, changed.content
    assert set(group.services.all()) == {b, c}
    assert api(client, "PATCH", f"{GROUPS}{group.pk}/", {"description": "Same members"}).status_code == 200
    assert set(group.services.all()) == {b, c}
    messages = list(testcases.audit_rows(group).order_by("pk").values_list("message", flat=True))
    assert messages.count("Services changed") == 2

    client.force_login(user_with(RoleType.SERVICE_GROUP_ADMIN, group_with_scopes()))
    refused = api(client, "PATCH", f"{GROUPS}{group.pk}/", {"services": []})
    assert refused.status_code == 403
    assert set(group.services.all()) == {b, c}


@pytest.mark.django_db
def test_service_group_rules_are_400_or_409_with_reasons(client):
    existing = group_with_scopes(name="taken_name")
    Scope.objects.create(name="reserved-scope", reserved=True)
    client.force_login(UserFactory())
    body = {"name": "taken_name", "description": "x", "scopes": ["EGI"]}
    clash = api(client, "POST", GROUPS, body)
    assert clash.status_code == 409 and clash.json() == {"name": ["A service group named taken_name already exists."]}
    reserved = api(client, "POST", GROUPS, {**body, "name": "fresh", "scopes": ["EGI", "reserved-scope"]})
    assert reserved.status_code == 400
    assert reserved.json()["scopes"] == [
        "Only portal administrators may add reserved scopes to a service group: reserved-scope."
    ]
    no_scope = api(client, "POST", GROUPS, {**body, "name": "fresh", "scopes": []})
    assert no_scope.status_code == 400 and "scopes" in no_scope.json()
    bad_name = api(client, "POST", GROUPS, {**body, "name": "has space"})
    assert bad_name.status_code == 400 and "name" in bad_name.json()
    missing = api(client, "POST", GROUPS, {**body, "name": "fresh", "services": [999999999]})
    assert missing.status_code == 400 and "services" in missing.json()
    assert list(ServiceGroup.objects.all()) == [existing]


@pytest.mark.django_db
def test_service_group_filters(client):
    egi, local = egi_scope(), local_scope()
    one, two = group_with_scopes(), group_with_scopes()
    two.scopes.set([local])
    member = ServiceFactory(site=SiteFactory(short_name="SG-SITE"))
    one.services.add(member)
    one.properties.create(key="owner", value="ops")
    get = lambda query: ids(api(client, "GET", f"{GROUPS}?{query}"))  # noqa: E731
    assert get("site=SG-SITE") == [one.pk]
    assert get("scope=Local") == [two.pk]
    assert get("scope__any=EGI,Local") == get("scope__any=EGI&scope__any=Local") == sorted([one.pk, two.pk])
    assert get("property=owner:ops") == [one.pk]
    assert get(f"services_id={member.pk}") == [one.pk]
    assert egi.pk != local.pk


# ------------------------------------------------------------------------------------------------
# Downtimes
# ------------------------------------------------------------------------------------------------

DOWNTIMES = "/api/v1/downtimes/"


def downtime_body(*services, hours_ahead=72, length=4, **changes):
    start = timezone.now() + timedelta(hours=hours_ahead)
    return {
        "services": [s.pk for s in services],
        "severity": "OUTAGE",
        "description": "Through the API",
        "start": iso(start),
        "end": iso(start + timedelta(hours=length)),
        **changes,
    }


@pytest.mark.django_db
def test_downtime_site_and_classification_are_derived(client):
    service = ServiceFactory()
    endpoint = EndpointFactory(service=ServiceFactory(site=service.site))
    client.force_login(site_admin(service.site))
    body = downtime_body(service, endpoints=[endpoint.pk], classification="UNSCHEDULED", site=SiteFactory().pk)
    created = api(client, "POST", DOWNTIMES, body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["site"]["id"] == service.site_id
    assert data["classification"] == "SCHEDULED"  # announced 72 h ahead; the sent value is ignored
    assert data["primary_key"] == f"{data['id']}G0"
    # An endpoint brings its service in (§7.1).
    assert sorted(s["id"] for s in data["services"]) == sorted([service.pk, endpoint.service_id])
    assert [e["id"] for e in data["endpoints"]] == [endpoint.pk]
    soon = api(client, "POST", DOWNTIMES, downtime_body(service, hours_ahead=1))
    assert soon.status_code == 201 and soon.json()["classification"] == "UNSCHEDULED"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"length": -1}, {"end": [endpoint_services.MSG_START_AFTER_END]}),
        ({"length": 0}, {"end": [endpoint_services.MSG_START_AFTER_END]}),
        ({"hours_ahead": -72}, {"start": [endpoint_services.MSG_START_TOO_OLD]}),
        ({"services": []}, {"detail": [endpoint_services.MSG_NO_SERVICE]}),
        ({"two_sites": True}, {"detail": [endpoint_services.MSG_MULTI_SITE]}),
    ],
)
def test_downtime_rules_are_400_with_gocdb_messages(client, changes, expected):
    service = ServiceFactory()
    client.force_login(UserFactory(is_superuser=True))
    services = [service, ServiceFactory()] if changes.pop("two_sites", False) else [service]
    body = downtime_body(*services, **changes)
    reply = api(client, "POST", DOWNTIMES, body)
    assert reply.status_code == 400
    assert reply.json() == expected
    assert not Downtime.objects.exists()


@pytest.mark.django_db
def test_downtime_edit_and_delete_rules(client):
    now = timezone.now()
    future = DowntimeFactory()
    client.force_login(site_admin(future.site))
    path = f"{DOWNTIMES}{future.pk}/"
    longer = api(client, "PATCH", path, {"end": iso(future.end + timedelta(hours=1))})
    assert longer.status_code == 400 and longer.json() == {"end": [endpoint_services.MSG_EXTENDED]}
    shorter = api(client, "PATCH", path, {"end": iso(future.end - timedelta(hours=1)), "severity": "WARNING"})
    assert shorter.status_code == 200 and shorter.json()["severity"] == "WARNING"

    ended = DowntimeFactory(start=now - timedelta(days=2), end=now - timedelta(days=1), service=future.services.get())
    reply = api(client, "PATCH", f"{DOWNTIMES}{ended.pk}/", {"description": "Too late"})
    assert reply.status_code == 400 and reply.json() == {"detail": [endpoint_services.MSG_ENDED]}

    locked = DowntimeFactory(start=now + timedelta(hours=2), service=future.services.get())
    reply = api(client, "PATCH", f"{DOWNTIMES}{locked.pk}/", {"description": "Too close"})
    assert reply.status_code == 400 and reply.json() == {"detail": [endpoint_services.MSG_SCHEDULED_LOCKED]}

    started = DowntimeFactory(start=now - timedelta(hours=1), service=future.services.get())
    reply = api(client, "DELETE", f"{DOWNTIMES}{started.pk}/")
    assert reply.status_code == 400 and reply.json() == {"detail": [endpoint_services.MSG_STARTED]}
    assert Downtime.objects.filter(pk=started.pk).exists()
    assert Downtime.objects.get(pk=ended.pk).description == "Planned maintenance"


@pytest.mark.django_db
def test_downtime_services_change_and_other_sites_are_refused(client):
    downtime = DowntimeFactory()
    first = downtime.services.get()
    second = ServiceFactory(site=downtime.site)
    endpoint = EndpointFactory(service=first)
    downtime.endpoints.set([endpoint])
    client.force_login(site_admin(downtime.site))
    path = f"{DOWNTIMES}{downtime.pk}/"
    moved = api(client, "PATCH", path, {"services": [second.pk]})
    assert moved.status_code == 200, moved.content
    # The endpoint of the removed service leaves with it instead of bringing its service back.
    assert [s["id"] for s in moved.json()["services"]] == [second.pk] and moved.json()["endpoints"] == []
    elsewhere = ServiceFactory()
    refused = api(client, "PATCH", path, {"services": [elsewhere.pk]})
    assert refused.status_code == 403
    assert list(downtime.services.all()) == [second]
    declare = api(client, "POST", DOWNTIMES, downtime_body(elsewhere))
    assert (
        declare.status_code == 403 and declare.json()["detail"] == f"You do not have permission over {elsewhere.site}."
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, field",
    [
        ({"start": "yesterday"}, "start"),
        ({"start": "2024-13-45T00:00:00Z"}, "start"),
        ({"end": None}, "end"),
        ({"severity": "DOOM"}, "severity"),
        ({"description": "it's down"}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"services": ["not-an-id"]}, "services"),
        ({"services": [{"hostname__contains": "host"}]}, "services"),
        ({"endpoints": [999999999]}, "endpoints"),
    ],
)
def test_downtime_bad_input_is_400_and_saves_nothing(client, change, field):
    service = ServiceFactory()
    client.force_login(site_admin(service.site))
    reply = api(client, "POST", DOWNTIMES, {**downtime_body(service), **change})
    assert reply.status_code == 400 and field in reply.json(), reply.content
    assert not Downtime.objects.exists()


@pytest.mark.django_db
def test_downtime_filters(client):
    now = timezone.now()
    service = ServiceFactory(site=SiteFactory(short_name="DT-SITE"), scopes=[local_scope()])
    ongoing = DowntimeFactory(start=now - timedelta(hours=1), end=now + timedelta(hours=1), service=service)
    future = DowntimeFactory(start=now + timedelta(days=2), severity="WARNING")
    past = DowntimeFactory(start=now - timedelta(days=3), end=now - timedelta(days=2))
    get = lambda query: ids(api(client, "GET", f"{DOWNTIMES}?{query}"))  # noqa: E731
    assert get("ongoing=true") == [ongoing.pk]
    assert get("ongoing=false") == sorted([future.pk, past.pk])
    assert get(f"start__gte={iso(now)}") == [future.pk]
    assert get(f"end__lte={iso(now)}") == [past.pk]
    assert get(f"start__gte={iso(now - timedelta(days=1))}&end__lte={iso(now + timedelta(hours=2))}") == [ongoing.pk]
    assert get("site=DT-SITE") == [ongoing.pk]
    assert get("severity=WARNING") == [future.pk]
    assert get("scope__any=Local") == get("scope=Local") == [ongoing.pk]
    assert get("scope__any=EGI") == sorted([future.pk, past.pk])
    assert get(f"services_id={service.pk}") == [ongoing.pk]
    for bad in ("ongoing=maybe", "start__gte=yesterday", "end__lte=" + "9" * 100, "site=NO_SUCH", "scope__any=nope"):
        assert api(client, "GET", f"{DOWNTIMES}?{bad}").status_code == 400, bad


@pytest.mark.django_db
def test_ending_a_downtime_now(client):
    now = timezone.now()
    ongoing = DowntimeFactory(start=now - timedelta(hours=1), end=now + timedelta(days=1))
    future = DowntimeFactory(start=now + timedelta(days=2), service=ServiceFactory(site=ongoing.site))
    end = lambda dt, **kw: api(client, "POST", f"{DOWNTIMES}{dt.pk}/end/", **kw)  # noqa: E731
    admin = site_admin(ongoing.site)

    assert end(ongoing).status_code in (401, 403)
    assert end(ongoing, user=site_admin(SiteFactory())).status_code == 403
    client.logout()
    assert end(ongoing, token=testcases.token_for(admin, write_enabled=False)).status_code == 403
    ongoing.refresh_from_db()
    assert ongoing.end > now + timedelta(hours=23) and not testcases.audit_rows(ongoing)

    reply = end(ongoing, token=testcases.token_for(admin))
    assert reply.status_code == 200, reply.content
    ongoing.refresh_from_db()
    assert now < ongoing.end <= timezone.now() + timedelta(minutes=1)
    assert reply.json()["end"] == iso(ongoing.end)
    assert testcases.audit_rows(ongoing).get().action == "downtime_end"

    reply = end(future, token=testcases.token_for(admin))
    assert reply.status_code == 400 and "on-going" in reply.json()["detail"][0], reply.content
    assert end(ongoing.__class__(pk=987654321), token=testcases.token_for(admin)).status_code == 404

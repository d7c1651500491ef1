"""Service groups (specs/gocdb.md §2.10, §5.5, §8, §9): operations and pages."""

import csv
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory
from endpoints import services as ops
from endpoints.models import ServiceGroup, ServiceGroupProperty
from endpoints.tests.factories import ServiceFactory, ServiceGroupFactory
from sites.models import Role, Scope
from sites.tests.factories import SiteFactory, grant, user_with

pytestmark = pytest.mark.django_db

LIST = reverse("endpoints:servicegroup_list")
ADD = reverse("endpoints:servicegroup_add")


@pytest.fixture
def egi():
    return Scope.objects.get(name="EGI")


@pytest.fixture
def wlcg():
    return Scope.objects.get(name="wlcg")


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def group(owner, egi):
    return ops.save_service_group(owner, ServiceGroup(name="my_group", description="Cloud services"), scopes=[egi])


def form(**extra):
    data = {"name": "new_group", "description": "Grouped services", "email": "ops@example.org", "scopes": []}
    data.update(extra)
    return data


# -- operations ------------------------------------------------------------------------------------------


def test_creator_becomes_granted_admin(group, owner):
    role = Role.objects.get(owned_entity=group.ownedentity_ptr)
    assert role.user == owner and role.role_type == "SERVICE_GROUP_ADMIN" and role.status == "STATUS_GRANTED"
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert actions == {"create", "role_grant"}
    assert list(group.scopes.values_list("name", flat=True)) == ["EGI"]


def test_create_needs_a_login(egi):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(PermissionDenied):
        ops.save_service_group(AnonymousUser(), ServiceGroup(name="anon", description="x"), scopes=[egi])
    assert not ServiceGroup.objects.exists()


def test_reserved_scope_only_by_admins(owner, egi, wlcg):
    with pytest.raises(ValidationError) as exc:
        ops.save_service_group(owner, ServiceGroup(name="res", description="x"), scopes=[egi, wlcg])
    assert "Only portal administrators may add reserved scopes to a service group: wlcg." in exc.value.messages
    assert not ServiceGroup.objects.exists() and not Role.objects.exists()
    admin = UserFactory(is_superuser=True)
    group = ops.save_service_group(admin, ServiceGroup(name="res", description="x"), scopes=[egi, wlcg])
    # the group's own admin may keep the reserved scope an administrator gave it
    grant(owner, "SERVICE_GROUP_ADMIN", group)
    group.description = "Edited"
    ops.save_service_group(owner, group, scopes=[egi, wlcg])
    assert set(group.scopes.values_list("name", flat=True)) == {"EGI", "wlcg"}


def test_minimum_scopes(owner):
    with pytest.raises(ValidationError) as exc:
        ops.save_service_group(owner, ServiceGroup(name="noscope", description="x"), scopes=[])
    assert "scopes" in exc.value.message_dict


def test_duplicate_name_has_gocdb_message(group, owner, egi):
    with pytest.raises(ValidationError) as exc:
        ops.save_service_group(owner, ServiceGroup(name="my_group", description="x"), scopes=[egi])
    assert exc.value.message_dict["name"] == ["A service group named my_group already exists."]


@pytest.mark.parametrize(
    "field,value", [("name", "with-hyphen"), ("description", "<b>x</b>"), ("email", "not an address")]
)
def test_field_formats(owner, egi, field, value):
    group = ServiceGroup(name="ok_name", description="fine")
    setattr(group, field, value)
    with pytest.raises(ValidationError) as exc:
        ops.save_service_group(owner, group, scopes=[egi])
    assert field in exc.value.message_dict
    assert not ServiceGroup.objects.exists()


def test_update_needs_edit_on_the_group(group, egi):
    stranger = UserFactory()
    grant(stranger, "SERVICE_GROUP_ADMIN", ServiceGroupFactory())
    group.description = "Hijacked"
    with pytest.raises(PermissionDenied):
        ops.save_service_group(stranger, group, scopes=[egi])
    assert ServiceGroup.objects.get(pk=group.pk).description == "Cloud services"


def test_site_admin_has_no_rights_over_groups(group, egi):
    service = ServiceFactory()
    group.services.add(service)
    site_admin = UserFactory()
    grant(site_admin, "SITE_ADMIN", service.site)
    with pytest.raises(PermissionDenied):
        ops.change_group_services(site_admin, group, remove=[service])


def test_update_is_audited(group, owner, egi):
    group.description = "Changed"
    ops.save_service_group(owner, group, scopes=[egi])
    row = AuditLog.objects.get(action="update")
    assert row.before["description"] == "Cloud services" and row.after["description"] == "Changed"


def test_change_services_of_any_site(group, owner):
    a, b = ServiceFactory(), ServiceFactory()
    ops.change_group_services(owner, group, add=[a, b])
    assert set(group.services.all()) == {a, b}
    ops.change_group_services(owner, group, remove=[a])
    assert list(group.services.all()) == [b]
    rows = AuditLog.objects.filter(action="update").order_by("id")
    assert rows[0].after["services"] == sorted([str(a), str(b)])
    assert rows[1].after["services"] == [str(b)]


def test_change_services_refusals(group, owner):
    a = ServiceFactory()
    with pytest.raises(ValidationError):
        ops.change_group_services(owner, group)
    with pytest.raises(ValidationError):
        ops.change_group_services(owner, group, add=[a], remove=[a])
    with pytest.raises(PermissionDenied):
        ops.change_group_services(UserFactory(), group, add=[a])
    assert not group.services.exists()


def test_delete_removes_roles_and_properties_keeps_services(group, owner):
    service = ServiceFactory()
    group.services.add(service)
    ServiceGroupProperty.objects.create(parent=group, key="k", value="v")
    with pytest.raises(PermissionDenied):
        ops.delete_service_group(UserFactory(), group)
    ops.delete_service_group(owner, group)
    assert not ServiceGroup.objects.exists() and not Role.objects.exists()
    assert not ServiceGroupProperty.objects.exists()
    service.refresh_from_db()
    assert AuditLog.objects.filter(action="delete", object_id=group.pk).exists()


# -- pages -----------------------------------------------------------------------------------------------


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def make_groups(n, egi):
    for _ in range(n):
        g = ServiceGroupFactory()
        g.scopes.set([egi])
        g.services.set([ServiceFactory(), ServiceFactory()])


def test_list_query_count_is_independent_of_rows(client, egi, django_assert_max_num_queries):
    make_groups(2, egi)
    few = count_queries(client, LIST)
    make_groups(15, egi)
    with django_assert_max_num_queries(few):
        response = client.get(LIST)
    assert "17 results" in response.content.decode()


def test_detail_query_count_is_independent_of_members(client, group, owner, egi, django_assert_max_num_queries):
    group.services.set([ServiceFactory()])
    client.force_login(owner)
    few = count_queries(client, group.get_absolute_url())
    group.services.set([ServiceFactory() for _ in range(15)])
    for i in range(5):
        ServiceGroupProperty.objects.create(parent=group, key=f"k{i}", value="v")
    with django_assert_max_num_queries(few):
        assert client.get(group.get_absolute_url()).status_code == 200


def test_detail_shows_members_and_buttons(client, group, owner):
    service = ServiceFactory(hostname="member.example.org")
    group.services.add(service)
    edit_url = reverse("endpoints:servicegroup_edit", args=[group.pk])
    content = client.get(group.get_absolute_url()).content.decode()
    assert "member.example.org" in content and str(service.site) in content
    assert edit_url not in content
    client.force_login(owner)
    assert edit_url in client.get(group.get_absolute_url()).content.decode()


def test_csv_and_filters(client, group, egi):
    other = ServiceGroupFactory(name="other_group", monitored=True)
    other.scopes.set([Scope.objects.get(name="Local")])
    service = ServiceFactory()
    group.services.add(service)
    response = client.get(LIST, {"export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "Name" and {r[0] for r in rows[1:]} == {"my_group", "other_group"}

    def names(**params):
        response = client.get(LIST, params)
        assert response.status_code == 200
        return {row.record.name for row in response.context["table"].rows}

    assert names(q="cloud") == {"my_group"}
    assert names(scope="Local") == {"other_group"}
    assert names(monitored="true") == {"other_group"}
    assert names(site=service.site.short_name) == {"my_group"}
    ServiceGroupProperty.objects.create(parent=other, key="vo", value="atlas")
    assert names(property="vo=atlas") == {"other_group"}


@pytest.mark.parametrize("params", [{"scope": "nope"}, {"monitored": "perhaps"}, {"site": "NO-SITE"}])
def test_invalid_filters_give_400(client, group, params):
    assert client.get(LIST, params).status_code == 400


def test_add_by_any_user(client, egi):
    user = UserFactory()
    client.force_login(user)
    assert client.get(ADD).status_code == 200
    response = client.post(ADD, form(scopes=[egi.pk]))
    group = ServiceGroup.objects.get(name="new_group")
    assert response.status_code == 302 and response["Location"] == group.get_absolute_url()
    assert Role.objects.filter(user=user, owned_entity=group.ownedentity_ptr, status="STATUS_GRANTED").exists()


@pytest.mark.parametrize(
    "change,message",
    [
        ({"name": "bad-name"}, "Only letters, digits and"),
        ({"name": "x" * 300}, "at most 255 characters"),
        ({"description": "<script>alert(1)</script>"}, "are not allowed"),
        ({"name": "my_group"}, "A service group named my_group already exists."),
        ({"scopes": []}, "non-reserved scope"),
    ],
)
def test_add_bad_input_saves_nothing(client, group, egi, change, message):
    client.force_login(UserFactory())
    before = ServiceGroup.objects.count()
    response = client.post(ADD, {**form(scopes=[egi.pk]), **change})
    content = response.content.decode()
    assert response.status_code == 400 and message in content
    assert "<script>alert(1)</script>" not in content
    assert ServiceGroup.objects.count() == before


def test_reserved_scope_on_the_form(client, egi, wlcg):
    client.force_login(UserFactory())
    response = client.post(ADD, form(scopes=[egi.pk, wlcg.pk]))
    assert response.status_code == 400 and "Only portal administrators may add reserved scopes" in (
        response.content.decode()
    )
    assert not ServiceGroup.objects.exists()


def test_delete_page(client, group, owner):
    url = reverse("endpoints:servicegroup_delete", args=[group.pk])
    client.force_login(UserFactory())
    assert client.get(url).status_code == 403 and client.post(url).status_code == 403
    client.force_login(owner)
    assert client.get(url).status_code == 200
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == LIST
    assert not ServiceGroup.objects.exists()


def test_services_page_adds_and_removes(client, group, owner):
    url = reverse("endpoints:servicegroup_services", args=[group.pk])
    a = ServiceFactory(hostname="alpha.example.org")
    b = ServiceFactory(hostname="beta.example.org")
    client.force_login(owner)
    content = client.get(url, {"q": "alpha"}).content.decode()
    assert f'name="add" value="{a.pk}"' in content and "beta.example.org" not in content
    assert client.post(url, {"add": [a.pk, b.pk]}).status_code == 302
    assert set(group.services.all()) == {a, b}
    assert client.post(url, {"remove": [a.pk]}).status_code == 302
    assert list(group.services.all()) == [b]
    response = client.post(url, {})
    assert response.status_code == 400 and "Select services to add or to remove." in response.content.decode()
    assert client.post(url, {"add": ["999999"]}).status_code == 400


def test_services_page_permissions(client, group):
    url = reverse("endpoints:servicegroup_services", args=[group.pk])
    assert client.get(url).status_code == 302
    client.force_login(UserFactory())
    assert client.get(url).status_code == 403
    assert client.post(url, {"add": [ServiceFactory().pk]}).status_code == 403
    assert not group.services.exists()


def test_properties(client, group, owner):
    url = reverse("endpoints:servicegroup_properties", args=[group.pk])
    client.force_login(UserFactory())
    assert client.get(url).status_code == 403
    client.force_login(owner)
    assert client.post(url, {"properties": "vo=atlas\ntier=2"}).status_code == 302
    assert dict(group.properties.values_list("key", "value")) == {"vo": "atlas", "tier": "2"}
    response = client.post(url, {"properties": "bad key=<b>"})
    assert response.status_code == 400
    assert group.properties.count() == 2
    delete_url = reverse("endpoints:servicegroup_property_delete", args=[group.pk])
    assert client.post(delete_url, {"key": "vo"}).status_code == 302
    assert list(group.properties.values_list("key", flat=True)) == ["tier"]


def test_history_page(client, group, owner):
    url = reverse("endpoints:servicegroup_history", args=[group.pk])
    response = client.get(url)
    # Who made a change is personal data: anonymous readers see the change, role holders also who made it.
    assert response.status_code == 200 and len(response.context["entries"]) == 1
    assert owner.username not in response.content.decode()
    client.force_login(user_with("SITE_ADMIN", SiteFactory()))
    assert owner.username in client.get(url).content.decode()


def test_nav_links(client):
    content = client.get(reverse("home")).content.decode()
    assert LIST in content and reverse("endpoints:downtime_list") in content


def test_site_roles_do_not_leak_to_groups(client, group):
    """A site admin holding a service of the group is not one of its administrators."""
    service = ServiceFactory()
    group.services.add(service)
    user = UserFactory()
    grant(user, "SITE_ADMIN", SiteFactory())
    grant(user, "SITE_ADMIN", service.site)
    client.force_login(user)
    assert client.get(reverse("endpoints:servicegroup_edit", args=[group.pk])).status_code == 403

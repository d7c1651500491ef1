"""The audit log: who, what, before/after, request id; per-object history and the global change list."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory
from endpoints.tests.factories import ServiceFactory
from sites.models import Scope, Site
from sites.tests.factories import NGIFactory, SiteFactory, grant
from sites.tests.test_site_views import edit_data

pytestmark = pytest.mark.django_db

CHANGES = reverse("changes")


def rows(response):
    return [row.record for row in response.context["table"].paginated_rows]


def test_site_edit_writes_one_row_per_object_with_the_request_id(client):
    egi, local, wlcg = (Scope.objects.get(name=n) for n in ("EGI", "Local", "wlcg"))
    site = SiteFactory(ngi=NGIFactory(scopes=[egi, wlcg]), scopes=[egi, wlcg])
    services = [ServiceFactory(site=site, scopes=[egi, wlcg]) for _ in range(2)]
    user = UserFactory()
    grant(user, "SITE_ADMIN", site)
    client.force_login(user)
    response = client.post(
        reverse("sites:site_edit", args=[site.pk]),
        edit_data(site, scopes=[egi.pk, local.pk], description="New text", child_scope_action="inherit"),
    )
    assert response.status_code == 302
    request_id = uuid.UUID(response["X-Request-ID"])
    entries = AuditLog.objects.filter(request_id=request_id)
    assert entries.count() == 3  # the site and both services
    assert {e.user for e in entries} == {user} and {e.user_name for e in entries} == {user.username}
    site_row = entries.get(content_type=ContentType.objects.get_for_model(Site))
    assert site_row.before["description"] == "A site" and site_row.after["description"] == "New text"
    assert site_row.before["scopes"] == ["EGI", "wlcg"] and site_row.after["scopes"] == ["EGI", "Local"]
    assert ("description", "A site", "New text") in site_row.changed_fields()
    for service in services:
        entry = entries.get(object_id=service.pk, content_type__model="service")
        assert entry.after["scopes"] == ["EGI", "Local"]


def test_each_request_gets_its_own_id(client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert uuid.UUID(first["X-Request-ID"]) != uuid.UUID(second["X-Request-ID"])


def test_refused_and_invalid_writes_leave_no_row(client):
    site = SiteFactory()
    other = UserFactory()
    grant(other, "SITE_ADMIN", SiteFactory())
    client.force_login(other)
    client.post(reverse("sites:site_edit", args=[site.pk]), edit_data(site, description="x"))
    grant(other, "SITE_ADMIN", site)
    client.post(reverse("sites:site_edit", args=[site.pk]), edit_data(site, email="bad"))
    assert not AuditLog.objects.exists()


def test_history_page_shows_the_changes_escaped(client):
    site = SiteFactory()
    user = UserFactory(username="editor")
    grant(user, "SITE_ADMIN", site)
    client.force_login(user)
    client.post(reverse("sites:site_edit", args=[site.pk]), edit_data(site, description="Tom & Jerry"))
    client.post(reverse("sites:site_properties", args=[site.pk]), {"properties": "a=1"})
    client.logout()
    response = client.get(reverse("sites:site_history", args=[site.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert len(response.context["entries"]) == 2
    assert "Tom &amp; Jerry" in body and "Properties set" in body
    assert "editor" not in body  # an anonymous reader does not learn who edited (personal data)
    client.force_login(user)
    assert "editor" in client.get(reverse("sites:site_history", args=[site.pk])).content.decode()
    other = SiteFactory()
    assert len(client.get(reverse("sites:site_history", args=[other.pk])).context["entries"]) == 0


@pytest.fixture
def changes(client):
    site = SiteFactory(short_name="AUDITED")
    alice, bob = UserFactory(username="alice", is_superuser=True), UserFactory(username="bob")
    grant(bob, "NGI_OPS_MAN", site.ngi)
    client.force_login(alice)
    client.post(reverse("sites:site_edit", args=[site.pk]), edit_data(site, description="by alice"))
    client.force_login(bob)
    client.post(reverse("sites:site_certification", args=[site.pk]), {"new_status": "Suspended", "reason": "bob did"})
    service = ServiceFactory(site=site)
    client.force_login(alice)
    client.post(reverse("sites:site_delete", args=[site.pk]))
    client.force_login(bob)  # a role holder: sees who changed what (personal data)
    assert not Site.objects.filter(pk=site.pk).exists()
    return site, service


@pytest.mark.parametrize(
    "query, expected",
    [
        ({}, {("update", "alice"), ("certification", "bob"), ("delete", "alice")}),
        ({"action": "certification"}, {("certification", "bob")}),
        ({"action": ["update", "delete"]}, {("update", "alice"), ("delete", "alice")}),
        ({"user_name": "bob"}, {("certification", "bob")}),
        ({"q": "bob did"}, {("certification", "bob")}),
    ],
)
def test_change_list_filters(client, changes, query, expected):
    response = client.get(CHANGES, query)
    assert response.status_code == 200
    assert {(r.action, r.user_name) for r in rows(response)} == expected


def test_change_list_filters_by_object_type_and_time(client, changes):
    site_type = ContentType.objects.get_for_model(Site)
    response = client.get(CHANGES, {"object_type": site_type.pk})
    assert {r.content_type for r in rows(response)} == {site_type}
    assert len(rows(response)) == 3
    service_rows = rows(client.get(CHANGES, {"object_type": ContentType.objects.get(model="service").pk}))
    assert [r.action for r in service_rows] == ["delete"]
    AuditLog.objects.filter(action="update").update(time=timezone.now() - timedelta(days=10))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert "update" not in {r.action for r in rows(client.get(CHANGES, {"time_after": since}))}
    assert {r.action for r in rows(client.get(CHANGES, {"time_before": since}))} == {"update"}


def test_change_list_by_request_id_and_deleted_objects_are_not_linked(client, changes):
    entry = AuditLog.objects.get(action="certification")
    response = client.get(CHANGES, {"request_id": str(entry.request_id)})
    assert rows(response) == [entry]
    body = client.get(CHANGES, {"action": "delete"}).content.decode()
    assert "AUDITED" in body
    assert f'href="/sites/{changes[0].pk}/"' not in body


@pytest.mark.parametrize(
    "query, field",
    [
        ({"action": "explode"}, "action"),
        ({"object_type": "999999"}, "object_type"),
        ({"object_type": "site"}, "object_type"),
        ({"time_after": "yesterday"}, "time_after"),
        ({"time_before": "2024-13-45"}, "time_before"),
        ({"request_id": "not-a-uuid"}, "request_id"),
    ],
)
def test_change_list_invalid_filter_is_400(client, changes, query, field):
    response = client.get(CHANGES, query)
    assert response.status_code == 400
    assert field in response.context["filterset"].errors
    assert "The filter is not valid" in response.content.decode()
    assert rows(response) == []


def test_change_list_csv(client, changes):
    response = client.get(CHANGES, {"action": "certification", "export": "csv"})
    text = b"".join(response.streaming_content).decode()
    header, line = text.strip().splitlines()
    assert header.startswith("Time,User,Action,Type,Object,Changes")
    assert "bob" in line and "certification_status: Certified -> Suspended" in line


def test_change_list_shows_api_credential_changes_only_to_portal_administrators(client):
    from sites.choices import RoleType
    from sites.models import APICredential
    from sites.services import add_api_credential

    site = SiteFactory()
    admin = UserFactory()
    grant(admin, RoleType.SITE_ADMIN, site)
    add_api_credential(admin, site, APICredential.Kind.X509, "/DC=org/DC=example/CN=robot")
    client.force_login(admin)
    assert "CN=robot" not in client.get(CHANGES).content.decode()
    client.force_login(UserFactory(is_superuser=True))
    assert "CN=robot" in client.get(CHANGES).content.decode()

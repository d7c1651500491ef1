import pytest
from django.urls import reverse

from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory
from sites.models import Scope


@pytest.mark.django_db
def test_admin_scope_changes_are_audited(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.post(
        reverse("admin:sites_scope_add"), {"name": "EOSCCore", "description": "EOSC core", "reserved": "on"}
    )
    assert response.status_code == 302
    scope = Scope.objects.get(name="EOSCCore")
    entry = AuditLog.objects.get(object_id=scope.pk, content_type__model="scope")
    assert entry.action == "create" and entry.user == admin and entry.after["reserved"] is True

    client.post(reverse("admin:sites_scope_delete", args=[scope.pk]), {"post": "yes"})
    assert not Scope.objects.filter(name="EOSCCore").exists()
    assert AuditLog.objects.filter(object_id=scope.pk, action="delete").count() == 1


@pytest.mark.django_db
def test_admin_refuses_non_staff(client):
    client.force_login(UserFactory(username="plain"))
    response = client.get(reverse("admin:sites_scope_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_admin_revokes_a_users_api_token_without_seeing_its_secret(client):
    from egiportal.models import APIToken

    owner = UserFactory()
    token = APIToken(user=owner, description="leaked")
    secret = token.issue()
    token.save()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    page = client.get(f"/admin/egiportal/apitoken/{token.pk}/change/").content.decode()
    assert token.prefix in page and token.digest not in page and secret not in page
    reply = client.post("/admin/egiportal/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert reply.status_code == 302
    token.refresh_from_db()
    assert token.revoked is not None and not APIToken.objects.for_secret(secret)
    assert AuditLog.objects.filter(message="API token revoked").exists()


@pytest.mark.django_db
def test_admin_deletes_through_delete_audited_with_the_models_state(client):
    """One delete, bulk ones included, one audit row with the model's audit_state() as before."""
    from egiportal.models import Identity

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    owner = UserFactory(username="robot-owner")
    identity = Identity.objects.create(user=owner, realm=Identity.Realm.X509, value="/CN=robot")
    client.post(reverse("admin:egiportal_identity_delete", args=[identity.pk]), {"post": "yes"})
    entry = AuditLog.objects.get(content_type__model="identity", action="delete")
    assert entry.before == {"user": "robot-owner", "realm": identity.realm, "value": "/CN=robot"}
    assert entry.after is None and entry.message == "Deleted in the admin"

    scopes = [Scope.objects.create(name=f"bulk-{i}") for i in range(3)]
    ids = [scope.pk for scope in scopes]
    reply = client.post(
        reverse("admin:sites_scope_changelist"), {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )
    assert reply.status_code == 302 and not Scope.objects.filter(pk__in=ids).exists()
    rows = AuditLog.objects.filter(content_type__model="scope", action="delete").order_by("object_id")
    assert [(row.object_id, row.before["name"]) for row in rows] == [(s.pk, s.name) for s in scopes]


def test_the_audited_delete_is_written_once():
    """No module but the core's services records a deletion itself: every entry point calls delete_audited."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    writers = sorted(
        str(path.relative_to(root))
        for path in root.glob("*/**/*.py")
        if ".venv" not in path.parts and "tests" not in path.parts and "migrations" not in path.parts
        if "AuditAction.DELETE" in path.read_text()
    )
    assert writers == ["egiportal/services.py"]


@pytest.mark.django_db
def test_admin_lists_outbox_messages_read_only(client):
    from egiportal.models import OutboxMessage

    OutboxMessage.objects.create(task="sites.tasks.notify", args=[7], attempts=3, last_error="broker <down>")
    OutboxMessage.objects.create(task="egiportal.tasks.done", done_at="2026-01-01T00:00Z")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    listing = client.get(reverse("admin:egiportal_outboxmessage_changelist"))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "sites.tasks.notify" in page and "broker &lt;down&gt;" in page and "pending" in page and "done" in page
    message = OutboxMessage.objects.get(task="sites.tasks.notify")
    assert client.get(reverse("admin:egiportal_outboxmessage_add")).status_code == 403
    change = reverse("admin:egiportal_outboxmessage_change", args=[message.pk])
    client.post(change, {"task": "x", "args": "[]", "attempts": 0})
    assert (
        client.post(reverse("admin:egiportal_outboxmessage_delete", args=[message.pk]), {"post": "yes"}).status_code
        == 403
    )
    message.refresh_from_db()
    assert message.task == "sites.tasks.notify" and message.attempts == 3

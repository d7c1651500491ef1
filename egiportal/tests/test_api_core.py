"""REST API of the core resources: `users` (only the caller), `tokens` (the caller's own personal API
tokens, secret shown once, digest never) and `changes` (the audit log, read-only, as the browser's
change list). Permissions from both sides, hostile input (400 with reasons, nothing saved) and fixed
list query counts."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from egiportal import services
from egiportal.api.testcases import MAX_LIST_QUERIES, api, token_for
from egiportal.choices import AuditAction
from egiportal.models import APIToken, AuditLog, Identity
from egiportal.tests.factories import UserFactory
from sites.choices import RoleStatus, RoleType
from sites.models import Scope
from sites.tests.factories import SiteFactory, grant

USERS = "/api/v1/users/"
ME = "/api/v1/users/me/"
TOKENS = "/api/v1/tokens/"
CHANGES = "/api/v1/changes/"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    settings.API_RATE_LIMIT = ""  # many requests per test; rate limiting has its own tests


@pytest.fixture
def alice():
    user = UserFactory(username="alice", first_name="Alice", last_name="Liddell", telephone="+44 1865 000")
    Identity.objects.create(user=user, realm=Identity.Realm.X509, value="/DC=org/CN=Alice Liddell")
    return user


def list_queries(client, path):
    with CaptureQueriesContext(connection) as queries:
        reply = api(client, "GET", path)
    assert reply.status_code == 200, reply.content
    return len(queries), reply.json()


# ================================================================================================
# users
# ================================================================================================


def test_users_is_only_the_caller(client, alice):
    site = SiteFactory()
    role = grant(alice, RoleType.SITE_ADMIN, site)
    pending = grant(alice, RoleType.SITE_OPS_MAN, site, status=RoleStatus.PENDING)
    other = UserFactory()
    listed = api(client, "GET", USERS, user=alice).json()
    assert [u["id"] for u in listed["results"]] == [alice.pk] and listed["count"] == 1
    me = api(client, "GET", ME).json()
    assert me == api(client, "GET", f"{USERS}{alice.pk}/").json()
    assert {k: me[k] for k in ("username", "first_name", "last_name", "email", "telephone")} == {
        "username": "alice",
        "first_name": "Alice",
        "last_name": "Liddell",
        "email": "alice@example.org",
        "telephone": "+44 1865 000",
    }
    assert me["identities"] == [{"realm": "X.509", "value": "/DC=org/CN=Alice Liddell"}]
    assert [(r["id"], r["role_type"], r["status"], r["entity"]["name"]) for r in me["roles"]] == [
        (role.pk, "SITE_ADMIN", RoleStatus.GRANTED, site.short_name),
        (pending.pk, "SITE_OPS_MAN", RoleStatus.PENDING, site.short_name),
    ]
    assert "password" not in me and "is_superuser" not in me
    assert api(client, "GET", f"{USERS}{other.pk}/").status_code == 404
    assert api(client, "GET", f"{USERS}?brief=1").json()["results"] == [
        {"id": alice.pk, "url": me["url"], "display": "Alice Liddell", "username": "alice"}
    ]


def test_users_needs_a_login(client, alice):
    for path in (USERS, ME, f"{USERS}{alice.pk}/"):
        assert api(client, "GET", path).status_code == 401
    assert api(client, "PATCH", ME, {"first_name": "Eve"}).status_code == 401
    alice.refresh_from_db()
    assert alice.first_name == "Alice"


def test_profile_change_is_saved_and_audited_without_the_values(client, alice):
    reply = api(client, "PATCH", ME, {"first_name": "Alícia", "telephone": "+44 (0)1865 123"}, user=alice)
    assert reply.status_code == 200, reply.content
    assert reply.json()["first_name"] == "Alícia" and reply.json()["telephone"] == "+44 (0)1865 123"
    alice.refresh_from_db()
    assert (alice.first_name, alice.last_name, alice.telephone) == ("Alícia", "Liddell", "+44 (0)1865 123")
    row = AuditLog.objects.get(content_type=ContentType.objects.get_for_model(alice), object_id=alice.pk)
    assert row.action == AuditAction.UPDATE and row.user == alice
    assert row.message == "Profile edited: first_name, telephone" and row.before is None and row.after is None
    detail = api(client, "PATCH", f"{USERS}{alice.pk}/", {"last_name": "Pleasance Liddell"})
    assert detail.status_code == 200 and detail.json()["last_name"] == "Pleasance Liddell"


def test_profile_of_someone_else_cannot_be_changed(client, alice):
    other = UserFactory(first_name="Bob")
    assert api(client, "PATCH", f"{USERS}{other.pk}/", {"first_name": "Eve"}, user=alice).status_code == 404
    assert api(client, "PATCH", USERS, [{"id": other.pk, "first_name": "Eve"}]).status_code == 405
    other.refresh_from_db()
    assert other.first_name == "Bob" and not AuditLog.objects.exists()


@pytest.mark.parametrize(
    "field, value",
    [
        ("first_name", "Eve\nAdmin"),
        ("first_name", "<script>"),
        ("first_name", "x" * 151),
        ("last_name", "Robert'); DROP TABLE"),
        ("last_name", "Zero\u200bWidth"),
        ("telephone", "call me"),
        ("telephone", "1" * 256),
        ("telephone", ["+1"]),
        ("username", "root"),
        ("email", "eve@example.org"),
        ("roles", []),
        ("is_superuser", True),
    ],
)
def test_profile_hostile_input_is_400_and_saves_nothing(client, alice, field, value):
    reply = api(client, "PATCH", ME, {"first_name": "Changed", field: value}, user=alice)
    assert reply.status_code == 400 and field in reply.json(), reply.content
    alice.refresh_from_db()
    assert alice.first_name == "Alice" and alice.username == "alice" and not alice.is_superuser
    assert not AuditLog.objects.exists()


def test_users_and_tokens_have_no_filters(client, alice):
    client.force_login(alice)
    for path in (f"{USERS}?username=root", f"{TOKENS}?user_id=1", f"{TOKENS}?limit=x"):
        assert api(client, "GET", path).status_code == 400, path


def test_users_cannot_be_created_replaced_or_deleted(client, alice):
    assert api(client, "POST", USERS, {"username": "new"}, user=alice).status_code == 405
    assert api(client, "PUT", ME, {"first_name": "A"}).status_code == 405
    assert api(client, "DELETE", f"{USERS}{alice.pk}/").status_code == 405


def test_read_only_token_reads_but_cannot_change_the_profile(client, alice):
    secret = token_for(alice, write_enabled=False)
    assert api(client, "GET", ME, token=secret).json()["username"] == "alice"
    assert api(client, "PATCH", ME, {"first_name": "Eve"}, token=secret).status_code == 403
    alice.refresh_from_db()
    assert alice.first_name == "Alice"


def test_users_query_count_is_fixed(client, alice):
    client.force_login(alice)
    few, _ = list_queries(client, USERS)
    for n in range(5):
        grant(alice, RoleType.SITE_ADMIN, SiteFactory())
        Identity.objects.create(user=alice, realm=Identity.Realm.CHECKIN, value=f"sub{n}@egi.eu")
    many, data = list_queries(client, USERS)
    assert few == many <= MAX_LIST_QUERIES and len(data["results"][0]["roles"]) == 5


# ================================================================================================
# tokens
# ================================================================================================


def test_token_secret_is_shown_once_and_the_digest_never(client, alice):
    created = api(client, "POST", TOKENS, {"description": "CI robot", "write_enabled": True}, user=alice)
    assert created.status_code == 201, created.content
    data = created.json()
    secret = data["secret"]
    assert secret.startswith("egit_") and data["prefix"] == secret[:10] + "…" and data["usable"] is True
    assert "no-store" in created["Cache-Control"]
    token = APIToken.objects.get(pk=data["id"])
    assert token.user == alice and token.write_enabled and token.digest == APIToken.digest_of(secret)
    replies = [
        created,
        api(client, "GET", TOKENS),
        api(client, "GET", f"{TOKENS}{token.pk}/"),
        api(client, "GET", f"{TOKENS}?format=csv"),
        api(client, "GET", f"{TOKENS}{token.pk}/?format=xml"),
        api(client, "GET", CHANGES),
    ]
    for reply in replies:
        assert reply.status_code == 200 or reply is created
        assert token.digest.encode() not in reply.content and b"digest" not in reply.content
    for reply in replies[1:]:
        assert secret.encode() not in reply.content and b'"secret"' not in reply.content
    create_row = AuditLog.objects.get(object_id=token.pk, content_type__model="apitoken")
    assert create_row.action == AuditAction.CREATE and create_row.after["prefix"] == token.prefix


def test_a_token_created_through_the_api_works(client, alice):
    client.force_login(alice)
    read_only = api(client, "POST", TOKENS, {"description": "reader"}).json()["secret"]
    writer = api(client, "POST", TOKENS, {"description": "writer", "write_enabled": True}).json()["secret"]
    client.logout()
    assert api(client, "GET", ME, token=read_only).json()["username"] == "alice"
    assert api(client, "PATCH", ME, {"telephone": "+1 555"}, token=read_only).status_code == 403
    assert api(client, "PATCH", ME, {"telephone": "+1 555"}, token=writer).status_code == 200
    alice.refresh_from_db()
    assert alice.telephone == "+1 555"


def test_tokens_are_made_from_a_session_not_with_another_token(client, alice):
    secret = token_for(alice)
    reply = api(client, "POST", TOKENS, {"description": "spawned", "write_enabled": True}, token=secret)
    assert reply.status_code == 403 and "session" in reply.json()["detail"]
    assert APIToken.objects.filter(user=alice).count() == 1


def test_tokens_of_others_are_invisible(client, alice):
    theirs, _ = services.create_api_token(UserFactory(), "theirs")
    mine, _ = services.create_api_token(alice, "mine")
    client.force_login(alice)
    assert [t["id"] for t in api(client, "GET", TOKENS).json()["results"]] == [mine.pk]
    assert api(client, "GET", f"{TOKENS}{theirs.pk}/").status_code == 404
    assert api(client, "DELETE", f"{TOKENS}{theirs.pk}/").status_code == 404
    assert api(client, "DELETE", TOKENS, [{"id": theirs.pk}]).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked is None
    client.logout()
    assert api(client, "GET", TOKENS).status_code == 401
    assert api(client, "POST", TOKENS, {"description": "anonymous"}).status_code == 401
    assert APIToken.objects.count() == 2


def test_delete_revokes_the_token(client, alice):
    token, secret = services.create_api_token(alice, "to revoke", write_enabled=True)
    assert api(client, "GET", ME, token=secret).status_code == 200
    assert api(client, "DELETE", f"{TOKENS}{token.pk}/", user=alice).status_code == 204
    token.refresh_from_db()
    assert token.revoked is not None
    shown = api(client, "GET", f"{TOKENS}{token.pk}/").json()
    assert shown["revoked"] and shown["usable"] is False
    again = api(client, "DELETE", f"{TOKENS}{token.pk}/")
    assert again.status_code == 400 and "already revoked" in str(again.json())
    client.logout()
    assert api(client, "GET", ME, token=secret).status_code == 401
    assert AuditLog.objects.filter(object_id=token.pk, message="API token revoked").count() == 1


def test_a_write_token_may_revoke_itself(client, alice):
    token, secret = services.create_api_token(alice, "leaked", write_enabled=True)
    assert api(client, "DELETE", f"{TOKENS}{token.pk}/", token=secret).status_code == 204
    assert api(client, "GET", ME, token=secret).status_code == 401


@pytest.mark.parametrize(
    "field, value",
    [
        ("description", ""),
        ("description", "x" * 201),
        ("description", "two\nlines"),
        ("description", "quote ' here"),
        ("description", "bidi \u202e trick"),
        ("expires", "yesterday"),
        ("expires", "2001-01-01T00:00:00Z"),
        ("write_enabled", "maybe"),
        ("digest", "0" * 64),
        ("user", 1),
        ("secret", "egit_chosen"),
    ],
)
def test_token_hostile_input_is_400_and_saves_nothing(client, alice, field, value):
    reply = api(client, "POST", TOKENS, {"description": "ok", field: value}, user=alice)
    assert reply.status_code == 400 and field in reply.json(), reply.content
    assert not APIToken.objects.exists() and not AuditLog.objects.exists()


def test_token_with_an_expiry_and_no_edits(client, alice):
    expires = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    body = {"description": "monthly", "expires": expires.isoformat()}
    created = api(client, "POST", TOKENS, body, user=alice)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert APIToken.objects.get(pk=pk).expires == expires
    assert api(client, "POST", TOKENS, [body, body]).status_code == 400
    for method in ("PUT", "PATCH"):
        assert api(client, method, f"{TOKENS}{pk}/", {"write_enabled": True}).status_code == 405
    assert not APIToken.objects.get(pk=pk).write_enabled


def test_tokens_query_count_is_fixed(client, alice):
    services.create_api_token(alice, "first")
    client.force_login(alice)
    few, _ = list_queries(client, TOKENS)
    for n in range(6):
        services.create_api_token(alice, f"more {n}")
    many, data = list_queries(client, TOKENS)
    assert few == many <= MAX_LIST_QUERIES and data["count"] == 7


# ================================================================================================
# changes
# ================================================================================================


def credential_change(site):
    from sites import services as site_services

    admin = UserFactory(is_superuser=True)
    credential, _ = site_services.add_api_credential(admin, site, "Portal token")
    return AuditLog.objects.get(object_id=credential.pk, content_type__model="apicredential")


def test_changes_are_the_browser_change_list(client, alice):
    site = SiteFactory()
    services.set_properties(UserFactory(is_superuser=True), site, [("tier", "1")])
    topology = AuditLog.objects.get(object_id=site.pk)
    hidden = credential_change(site)
    for user in (None, alice):
        if user is not None:
            client.force_login(user)
        rows = api(client, "GET", CHANGES).json()["results"]
        assert [r["id"] for r in rows] == [topology.pk]
        assert api(client, "GET", f"{CHANGES}{hidden.pk}/").status_code == 404
    row = rows[0]
    assert row["object_type"] == "sites.site" and row["object_url"].endswith(f"/api/v1/sites/{site.pk}/")
    assert row["after"]["properties"] == {"tier": "1"} and row["action"] == "update"
    client.force_login(UserFactory(is_superuser=True))
    assert sorted(r["id"] for r in api(client, "GET", CHANGES).json()["results"]) == sorted([topology.pk, hidden.pk])
    assert api(client, "GET", f"{CHANGES}{hidden.pk}/").json()["object_url"] is None


def test_changes_are_read_only(client):
    site = SiteFactory()
    services.set_properties(UserFactory(is_superuser=True), site, [("tier", "1")])
    row = AuditLog.objects.get()
    client.force_login(UserFactory(is_superuser=True))
    assert api(client, "POST", CHANGES, {"message": "forged"}).status_code == 405
    for method in ("PUT", "PATCH", "DELETE"):
        assert api(client, method, f"{CHANGES}{row.pk}/", {"message": "forged"}).status_code == 405
        assert api(client, method, CHANGES, [{"id": row.pk, "message": "forged"}]).status_code == 405
    row.refresh_from_db()
    assert row.message == "Properties set" and AuditLog.objects.count() == 1


def test_change_filters(client, alice):
    site = SiteFactory()
    admin = UserFactory(username="admin", is_superuser=True)
    services.set_properties(admin, site, [("tier", "1")])
    services.save_audited(alice, Scope(name="alices-tag"))  # a public row (token rows are private)
    by_admin = AuditLog.objects.get(user=admin)
    by_alice = AuditLog.objects.get(user=alice)
    AuditLog.objects.filter(pk=by_admin.pk).update(time=timezone.now() - timedelta(days=10))
    # Outside a request both services ran under one request id; give alice's change its own.
    AuditLog.objects.filter(pk=by_alice.pk).update(request_id=uuid.uuid4())
    by_alice.refresh_from_db()
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    client.force_login(admin)  # filtering by who changed something takes who may see personal data

    def ids(query):
        reply = api(client, "GET", f"{CHANGES}?{query}")
        assert reply.status_code == 200, reply.content
        return [r["id"] for r in reply.json()["results"]]

    assert ids("user_name=admin") == [by_admin.pk]
    assert ids("action=create") == [by_alice.pk]
    assert ids(f"time_after={since}") == [by_alice.pk]
    assert ids(f"object_id={site.pk}&q=properties") == [by_admin.pk]
    assert ids(f"request_id={by_alice.request_id}") == [by_alice.pk]
    site_type = ContentType.objects.get(app_label="sites", model="site")
    assert ids(f"object_type={site_type.pk}") == [by_admin.pk]
    for bad in ("action=explode", "time_after=soon", "request_id=not-a-uuid", "object_type=999999", "nope=1"):
        assert api(client, "GET", f"{CHANGES}?{bad}").status_code == 400, bad


def test_changes_query_count_is_fixed(client):
    admin = UserFactory(is_superuser=True)
    services.set_properties(admin, SiteFactory(), [("k", "v")])
    few, _ = list_queries(client, CHANGES)
    for _ in range(6):
        site = SiteFactory()
        services.set_properties(admin, site, [("k", "v")])
        services.save_audited(admin, Scope(name=f"tag-{site.pk}"))
    many, data = list_queries(client, CHANGES)
    assert few == many <= MAX_LIST_QUERIES and data["count"] == 13


def test_token_audit_entries_are_for_administrators_only(client, alice):
    """A personal token's entries (its prefix, description, owner) are private like credentials': portal
    administrators see them in the change list and `changes`; anyone else, the owner included, does not
    (the token pages show no history)."""
    token, _ = services.create_api_token(alice, "robot of alice")
    services.revoke_api_token(alice, token)
    private = set(AuditLog.objects.filter(content_type__model="apitoken").values_list("pk", flat=True))
    assert len(private) == 2
    site = SiteFactory()
    services.set_properties(UserFactory(is_superuser=True), site, [("tier", "1")])
    public = AuditLog.objects.get(content_type__model="site")

    def seen(user):
        if user is None:
            client.logout()
        else:
            client.force_login(user)
        listed = {r["id"] for r in api(client, "GET", CHANGES).json()["results"]}
        page = client.get("/changes/").content.decode()
        assert public.pk in listed and str(site) in page
        details = {pk for pk in private if api(client, "GET", f"{CHANGES}{pk}/").status_code == 200}
        return listed & private, details, str(token) in page

    assert seen(UserFactory(is_superuser=True)) == (private, private, True)
    for user in (alice, UserFactory(), None):
        assert seen(user) == (set(), set(), False), user


# ---------------------------------------------------------------- requests from other sites' pages


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", TOKENS, {"Origin": "https://evil.example"}),
        ("POST", TOKENS, {"Sec-Fetch-Site": "cross-site"}),
        ("PATCH", ME, {"Origin": "https://evil.example"}),
    ],
)
def test_writes_from_another_sites_page_are_refused(client, alice, method, path, headers):
    """A browser presents cached HTTP Basic tokens with another site's requests: writes it says come
    from another site are refused, whoever is authenticated; reads are not concerned."""
    secret = token_for(alice)
    body = {"description": "from a hostile page"} if method == "POST" else {"first_name": "Mallory"}
    before = APIToken.objects.count()
    response = api(client, method, path, body, token=secret, headers=headers)
    assert response.status_code == 403, response.content
    assert "Requests from other sites are refused" in response.json()["detail"]
    assert APIToken.objects.count() == before
    alice.refresh_from_db()
    assert alice.first_name == "Alice"
    assert api(client, "GET", ME, token=secret, headers=headers).status_code == 200


def test_a_form_post_is_refused_before_it_is_read(client, alice):
    client.force_login(alice)
    response = client.post(TOKENS, '{"description": "x"}', content_type="text/plain")
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["detail"]
    same_origin = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert api(client, "POST", TOKENS, {"description": "mine"}, headers=same_origin).status_code == 201

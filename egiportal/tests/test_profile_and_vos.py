"""The profile page (identities, VO memberships, site roles, API tokens), unlinking an identity, the VO
list and page, and the VO admin: what each user sees, fixed query counts, refusals and hostile input."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from egiportal import services
from egiportal.choices import AuditAction
from egiportal.models import APIToken, AuditLog, Identity, User, VirtualOrganisation, VOMembership
from egiportal.tests.factories import UserFactory
from endpoints.tests.factories import ServiceGroupFactory
from sites.choices import RoleStatus
from sites.tests.factories import NGIFactory, SiteFactory, grant

pytestmark = pytest.mark.django_db

CHECKIN = Identity.Realm.CHECKIN
X509 = Identity.Realm.X509
LOCAL = VOMembership.Source.LOCAL
FROM_CHECKIN = VOMembership.Source.CHECKIN


def token(user, description, **kwargs):
    made = APIToken(user=user, description=description, **kwargs)
    made.issue()
    made.save()
    return made


def member(user, vo_name, source=FROM_CHECKIN, **kwargs):
    vo, _ = VirtualOrganisation.objects.get_or_create(name=vo_name)
    return VOMembership.objects.create(user=user, vo=vo, source=source, **kwargs)


def count_queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def passwordless(**kwargs):
    """A user made at a Check-in login: no password to log in with."""
    user = UserFactory(**kwargs)
    user.set_unusable_password()
    user.save()
    return user


@pytest.fixture
def alice():
    user = UserFactory(username="alice", first_name="Alice", last_name="Liddell", email="alice@example.org")
    Identity.objects.create(user=user, realm=CHECKIN, value="alice-sub@egi.eu")
    Identity.objects.create(user=user, realm=X509, value="/DC=org/DC=example/CN=Alice Liddell")
    member(user, "fedcloud.egi.eu", roles=["member", "vm_operator"], groups=["fedcloud.egi.eu:training"])
    member(user, "biomed", source=LOCAL, roles=["member"], manager=True)
    return user


@pytest.fixture
def bob():
    user = UserFactory(username="bob", email="bob@example.org")
    Identity.objects.create(user=user, realm=CHECKIN, value="bob-sub@egi.eu")
    member(user, "bobs-vo.example.org", roles=["member"])
    grant(user, "SITE_ADMIN", SiteFactory(short_name="BOB-SITE"))
    token(user, "bob's script")
    return user


# --- the profile page -----------------------------------------------------------------------------


def test_profile_shows_the_users_own_account_and_nobody_elses(client, alice, bob):
    site, ngi = SiteFactory(short_name="ALICE-SITE"), NGIFactory(name="NGI_ALICE")
    grant(alice, "SITE_ADMIN", site)
    grant(alice, "NGI_SEC_OFFICER", ngi, status=RoleStatus.PENDING)
    token(alice, "alice's monitoring", write_enabled=True)
    token(alice, "alice's old script", revoked=timezone.now())
    client.force_login(alice)
    body = client.get(reverse("profile")).content.decode()
    for text in (
        "Alice Liddell",
        "alice@example.org",
        "alice-sub@egi.eu",
        "/DC=org/DC=example/CN=Alice Liddell",
        'href="/vos/fedcloud.egi.eu/"',
        "member, vm_operator",
        "fedcloud.egi.eu:training",
        "VO manager",
        "set by a portal administrator",
        "EGI Check-in",
        f'href="{site.get_absolute_url()}"',
        "ALICE-SITE",
        "NGI_ALICE",
        "Pending",
        "Granted",
        "alice&#x27;s monitoring",
        "alice&#x27;s old script",
        "revoked ",
        reverse("sites:my_roles"),
        reverse("api_tokens"),
    ):
        assert text in body, text
    for identity in alice.identities.all():
        assert reverse("identity_unlink", args=[identity.pk]) in body
    for text in ("bob-sub@egi.eu", "bobs-vo.example.org", "BOB-SITE", "bob&#x27;s script"):
        assert text not in body, text
    # The VO manager badge is on biomed (local row), not on fedcloud (Check-in member).
    assert body.count("VO manager</span>") == 1


def test_profile_needs_login(client):
    response = client.get(reverse("profile"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_link_button_only_where_checkin_is_configured(client, alice, settings):
    # A password session: a Check-in one would be sent to the provider to refresh its tokens first.
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    settings.OIDC_OP_ISSUER, settings.OIDC_RP_CLIENT_ID = "", ""
    body = client.get(reverse("profile")).content.decode()
    assert "Link another EGI Check-in identity" not in body
    assert "ask a portal administrator" in body
    settings.OIDC_OP_ISSUER, settings.OIDC_RP_CLIENT_ID = "http://127.0.0.1:9", "portal"
    # Configured endpoints spare the session-refresh middleware a discovery request to this dead issuer.
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "http://127.0.0.1:9/authorize"
    body = client.get(reverse("profile")).content.decode()
    assert f'href="{reverse("oidc_authentication_init")}?link=1&amp;next=/profile/"' in body


def test_profile_query_count_is_fixed(client, alice, django_assert_max_num_queries):
    site = SiteFactory()
    grant(alice, "SITE_ADMIN", site)
    token(alice, "one")
    client.force_login(alice)
    few = count_queries(client, reverse("profile"))
    for i in range(20):
        Identity.objects.create(user=alice, realm=X509, value=f"/CN=alice {i}")
        member(alice, f"vo{i}.example.org", roles=["member"], manager=i % 2 == 0)
        grant(alice, "SITE_ADMIN", SiteFactory(ngi=site.ngi), status=RoleStatus.PENDING if i % 2 else "STATUS_GRANTED")
        grant(alice, "NGI_SEC_OFFICER", NGIFactory())
        grant(alice, "SERVICE_GROUP_ADMIN", ServiceGroupFactory())
        token(alice, f"token {i}")
    with django_assert_max_num_queries(few):
        body = client.get(reverse("profile")).content.decode()
    assert body.count("vo19.example.org") >= 1 and body.count("Unlink</a>") == 22
    assert few <= 10


# --- unlinking an identity ------------------------------------------------------------------------


def test_unlink_page_confirms_then_unlinks_and_audits_for_administrators_only(client, alice):
    identity = alice.identities.get(realm=X509)
    url = reverse("identity_unlink", args=[identity.pk])
    client.force_login(alice)
    page = client.get(url)
    assert page.status_code == 200 and b"Unlink this identity?" in page.content
    assert Identity.objects.filter(pk=identity.pk).exists()  # GET changes nothing
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("profile")
    assert not Identity.objects.filter(pk=identity.pk).exists()
    entry = AuditLog.objects.get(content_type__model="identity", object_id=identity.pk)
    assert entry.action == AuditAction.DELETE and entry.user == alice
    assert entry.before == {"user": alice.username, "realm": identity.realm, "value": identity.value}
    assert entry.after is None
    # The row names the DN: the change list shows it to portal administrators only.
    assert not AuditLog.objects.visible_to(alice).filter(pk=entry.pk).exists()
    assert AuditLog.objects.visible_to(UserFactory(is_superuser=True)).filter(pk=entry.pk).exists()
    assert b"was unlinked" in client.get(reverse("profile")).content


def test_a_user_with_a_password_may_unlink_their_last_checkin_identity(client, alice):
    identity = alice.identities.get(realm=CHECKIN)
    client.force_login(alice)
    assert client.post(reverse("identity_unlink", args=[identity.pk])).status_code == 302
    assert not alice.identities.filter(realm=CHECKIN).exists()


def test_another_users_identity_is_a_404_and_stays(client, alice, bob):
    identity = bob.identities.get()
    url = reverse("identity_unlink", args=[identity.pk])
    client.force_login(alice)
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert client.post(reverse("identity_unlink", args=[999999999])).status_code == 404
    assert Identity.objects.filter(pk=identity.pk).exists()
    with pytest.raises(PermissionDenied):
        services.unlink_identity(alice, identity)
    assert Identity.objects.filter(pk=identity.pk).exists()


def test_the_last_checkin_identity_of_a_passwordless_account_is_kept(client):
    user = passwordless()
    identity = Identity.objects.create(user=user, realm=CHECKIN, value="only-sub@egi.eu")
    dn = Identity.objects.create(user=user, realm=X509, value="/CN=only")
    client.force_login(user)
    response = client.post(reverse("identity_unlink", args=[identity.pk]))
    assert response.status_code == 400
    assert "only EGI Check-in identity of your account" in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert Identity.objects.filter(pk=identity.pk).exists()
    assert not AuditLog.objects.filter(content_type__model="identity").exists()
    # Its X.509 DN may go: it does not log anyone in to the browser.
    assert client.post(reverse("identity_unlink", args=[dn.pk])).status_code == 302
    assert list(user.identities.all()) == [identity]


def test_a_passwordless_account_may_unlink_one_of_two_checkin_identities(client):
    user = passwordless()
    first = Identity.objects.create(user=user, realm=CHECKIN, value="first@egi.eu")
    second = Identity.objects.create(user=user, realm=CHECKIN, value="second@egi.eu")
    client.force_login(user)
    assert client.post(reverse("identity_unlink", args=[first.pk])).status_code == 302
    assert client.post(reverse("identity_unlink", args=[second.pk])).status_code == 400
    assert list(user.identities.all()) == [second]


def test_a_password_does_not_count_where_local_login_is_off(client, alice, settings):
    settings.LOCAL_LOGIN = False
    identity = alice.identities.get(realm=CHECKIN)
    client.force_login(alice)
    assert client.post(reverse("identity_unlink", args=[identity.pk])).status_code == 400
    assert Identity.objects.filter(pk=identity.pk).exists()


def test_anonymous_unlink_is_sent_to_login(client, alice):
    identity = alice.identities.get(realm=X509)
    response = client.post(reverse("identity_unlink", args=[identity.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert Identity.objects.filter(pk=identity.pk).exists()


# --- linking the presented client certificate -----------------------------------------------------

CERT_HEADER = "X-SSL-Client-S-DN"


def test_the_certificate_presented_through_the_proxy_can_be_linked(client, bob, settings):
    settings.PI_CLIENT_DN_HEADER = CERT_HEADER
    headers = {CERT_HEADER: "CN=Bob Builder,O=Example,DC=example,DC=org"}
    client.force_login(bob)
    page = client.get(reverse("profile"), headers=headers).content.decode()
    assert 'id="link-certificate"' in page and "/DC=org/DC=example/O=Example/CN=Bob Builder" in page
    assert client.post(reverse("certificate_link"), headers=headers).status_code == 302
    assert bob.identities.filter(realm=X509, value="/DC=org/DC=example/O=Example/CN=Bob Builder").exists()
    entry = AuditLog.objects.get(content_type__model="identity")
    assert entry.action == AuditAction.CREATE and entry.user == bob
    # Linked now: no more offer. Without the proxy header there is nothing to link.
    assert 'id="link-certificate"' not in client.get(reverse("profile"), headers=headers).content.decode()
    assert 'id="link-certificate"' not in client.get(reverse("profile")).content.decode()


def test_a_certificate_of_another_account_or_none_is_refused(client, alice, bob, settings):
    settings.PI_CLIENT_DN_HEADER = CERT_HEADER
    client.force_login(bob)
    taken = {CERT_HEADER: "/DC=org/DC=example/CN=Alice Liddell"}
    reply = client.post(reverse("certificate_link"), headers=taken, follow=True)
    assert "linked to another portal account" in reply.content.decode()
    assert not bob.identities.filter(realm=X509).exists()
    assert client.post(reverse("certificate_link"), headers={CERT_HEADER: "CN=x\00y"}).status_code in (302, 403)
    assert client.post(reverse("certificate_link")).status_code == 403
    assert not bob.identities.filter(realm=X509).exists()
    client.logout()
    response = client.post(reverse("certificate_link"), headers={CERT_HEADER: "CN=Anon"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- the VO list and page -------------------------------------------------------------------------


@pytest.fixture
def biomed():
    """biomed: a Check-in manager, a local manager who is also a Check-in member, and a plain member."""
    carol = UserFactory(username="carol", first_name="Carol", last_name="Checkin", email="carol@example.org")
    dave = UserFactory(username="dave", first_name="Dave", last_name="Local", email="dave@example.org")
    erin = UserFactory(username="erin", first_name="Erin", last_name="Member", email="erin@example.org")
    member(carol, "biomed", roles=["member", "manager"], manager=True)
    member(dave, "biomed", roles=["member"])
    member(dave, "biomed", source=LOCAL, manager=True)
    member(erin, "biomed", roles=["member"], groups=["biomed:imaging"])
    vo = VirtualOrganisation.objects.get(name="biomed")
    vo.description = "Biomedical research"
    vo.save()
    return vo


def test_vo_page_lists_managers_of_both_sources_and_hides_emails_from_anonymous(client, biomed):
    body = client.get(reverse("vo", args=["biomed"])).content.decode()
    assert "Biomedical research" in body and "3 members" in body
    assert "Carol Checkin" in body and "Dave Local" in body and "Erin Member" not in body
    assert body.count("Dave Local") == 1  # two manager rows, one manager
    assert "@example.org" not in body and "Log in to see" in body
    assert "Your membership" not in body

    client.force_login(UserFactory(username="stranger"))
    body = client.get(reverse("vo", args=["biomed"])).content.decode()
    assert "mailto:carol@example.org" in body and "mailto:dave@example.org" in body
    assert "erin@example.org" not in body and "Your membership" not in body


def test_vo_page_shows_a_member_their_own_roles(client, biomed):
    client.force_login(UserFactory(username="erin"))
    body = client.get(reverse("vo", args=["biomed"])).content.decode()
    assert "Your membership" in body and "biomed:imaging" in body


@pytest.mark.parametrize(
    "path",
    [
        "/vos/%00/",
        "/vos/bio%00med/",
        "/vos/" + "a" * 300 + "/",
        "/vos/../",
        "/vos/..%2F/",
        "/vos/.hidden/",
        "/vos/x%0A/",
    ],
)
def test_odd_vo_names_are_404(client, biomed, path):
    assert client.get(path).status_code == 404


def test_unknown_vo_is_404(client):
    assert client.get(reverse("vo", args=["nosuch.example.org"])).status_code == 404


def test_vo_list_counts_members_names_managers_and_sorts_by_name(client, biomed):
    member(UserFactory(), "atlas")
    body = client.get(reverse("vo_list")).content.decode()
    assert body.index(">atlas<") < body.index(">biomed<")
    assert 'href="/vos/biomed/"' in body and "<td >Carol Checkin, Dave Local</td>" in body
    assert "<td >3</td>" in body and "<td >1</td>" in body  # dave's two rows count once
    by_members = client.get(reverse("vo_list"), {"sort": "-member_count"}).content.decode()
    assert by_members.index(">biomed<") < by_members.index(">atlas<")
    csv = client.get(reverse("vo_list"), {"export": "csv"})
    lines = b"".join(csv.streaming_content).decode().splitlines()
    assert lines[0] == "Name,Description,Members,Managers"
    assert lines[2] == 'biomed,Biomedical research,3,"Carol Checkin, Dave Local"'


def test_vo_list_search(client, biomed):
    member(UserFactory(), "atlas")
    body = client.get(reverse("vo_list"), {"q": "BIO"}).content.decode()
    assert ">biomed<" in body and ">atlas<" not in body
    assert client.get(reverse("vo_list"), {"q": "nothing-like-it"}).status_code == 200


@pytest.mark.parametrize("q", ["bio\x00med", "\x00", "a" * 256, "b" * 100_000])
def test_vo_list_refuses_hostile_searches(client, biomed, q):
    response = client.get(reverse("vo_list"), {"q": q})
    assert response.status_code == 400 and ">biomed<" not in response.content.decode()


@pytest.mark.parametrize("q", ["'; DROP TABLE x; --", "%", "_", "\u202ebiomed", "bio med"])
def test_vo_list_odd_but_harmless_searches_are_answered(client, biomed, q):
    assert client.get(reverse("vo_list"), {"q": q}).status_code == 200


def test_vo_list_query_count_is_fixed(client, django_assert_max_num_queries):
    def add_vos(start, n):
        for i in range(start, start + n):
            manager = UserFactory()
            member(manager, f"vo{i:03}.example.org", manager=True)
            member(manager, f"vo{i:03}.example.org", source=LOCAL, manager=True)
            member(UserFactory(), f"vo{i:03}.example.org")

    add_vos(0, 1)
    few = count_queries(client, reverse("vo_list"))
    add_vos(1, 19)
    with django_assert_max_num_queries(few):
        body = client.get(reverse("vo_list")).content.decode()
    assert "vo019.example.org" in body and "20 results" in body
    assert few <= 6


def test_vo_page_query_count_is_fixed(client, biomed, django_assert_max_num_queries):
    client.force_login(UserFactory(username="erin"))
    few = count_queries(client, reverse("vo", args=["biomed"]))
    for _ in range(20):
        member(UserFactory(), "biomed", manager=True)
    with django_assert_max_num_queries(few):
        client.get(reverse("vo", args=["biomed"]))


def test_vo_managers_edit_the_description_others_cannot(client, biomed):
    url = reverse("vo", args=["biomed"])
    carol, erin = User.objects.get(username="carol"), User.objects.get(username="erin")
    assert 'id="vo-description"' not in client.get(url).content.decode()
    response = client.post(url, {"description": "Anonymous"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    client.force_login(erin)  # a member, not a manager
    assert 'id="vo-description"' not in client.get(url).content.decode()
    assert client.post(url, {"description": "Member's"}).status_code == 403
    client.force_login(carol)
    assert 'id="vo-description"' in client.get(url).content.decode()
    for bad in ("x" * 501, "bad\x00", "line\nbreak"):
        response = client.post(url, {"description": bad})
        assert response.status_code == 400 and 'role="alert"' in response.content.decode(), bad
    assert VirtualOrganisation.objects.get(name="biomed").description == "Biomedical research"
    assert not AuditLog.objects.filter(object_repr="biomed").exists()
    assert client.post(url, {"description": "Medical imaging and drug discovery"}).status_code == 302
    assert VirtualOrganisation.objects.get(name="biomed").description == "Medical imaging and drug discovery"
    assert AuditLog.objects.get(object_repr="biomed").user == carol
    assert client.post(reverse("vo", args=["no.such.vo"]), {"description": "x"}).status_code == 404


# --- admin ----------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_admin_adds_a_local_membership_which_is_audited(admin_client, biomed):
    erin = UserFactory(username="erin")
    assert admin_client.get(reverse("admin:egiportal_vomembership_add")).status_code == 200
    data = {"vo": biomed.pk, "user": erin.pk, "roles": '["member"]', "groups": "[]", "manager": "on"}
    # A posted source is ignored: the field is disabled, so the row is local whatever the form says.
    response = admin_client.post(reverse("admin:egiportal_vomembership_add"), {**data, "source": "checkin"})
    assert response.status_code == 302
    row = VOMembership.objects.get(user=erin, vo=biomed, manager=True)
    assert row.source == LOCAL and row.roles == ["member"]
    entry = AuditLog.objects.get(content_type__model="vomembership", object_id=row.pk)
    assert entry.action == AuditAction.CREATE and entry.after["source"] == "local" and entry.after["user"] == "erin"

    duplicate = admin_client.post(reverse("admin:egiportal_vomembership_add"), data)
    assert duplicate.status_code == 200 and b"already exists" in duplicate.content
    assert VOMembership.objects.filter(user=erin, vo=biomed, source=LOCAL).count() == 1

    edit = {**data, "manager": "", "roles": '["member", "reviewer"]'}
    assert admin_client.post(reverse("admin:egiportal_vomembership_change", args=[row.pk]), edit).status_code == 302
    row.refresh_from_db()
    assert row.manager is False and row.source == LOCAL
    update = AuditLog.objects.get(content_type__model="vomembership", object_id=row.pk, action=AuditAction.UPDATE)
    assert update.before["manager"] is True and update.after["roles"] == ["member", "reviewer"]

    listing = admin_client.get(reverse("admin:egiportal_vomembership_changelist"), {"source": "local", "q": "erin"})
    assert (
        listing.status_code == 200 and str(erin) in listing.content.decode() and "Carol" not in listing.content.decode()
    )


def test_admin_refuses_roles_that_are_not_a_list_of_names(admin_client, biomed):
    erin = UserFactory(username="erin")
    data = {"vo": biomed.pk, "user": erin.pk, "roles": '{"a": 1}', "groups": "[]"}
    response = admin_client.post(reverse("admin:egiportal_vomembership_add"), data)
    assert response.status_code == 200 and b"JSON list of names" in response.content
    assert not VOMembership.objects.filter(user=erin, source=LOCAL).exists()


def test_admin_checkin_memberships_are_read_only(admin_client, biomed):
    row = biomed.memberships.get(user__username="carol")
    url = reverse("admin:egiportal_vomembership_change", args=[row.pk])
    assert admin_client.get(url).status_code == 200  # shown, as a view-only page
    response = admin_client.post(url, {"vo": biomed.pk, "user": row.user_id, "roles": "[]", "groups": "[]"})
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.manager is True and row.roles == ["member", "manager"]


def test_admin_vo_with_a_local_manager_inline_is_audited(admin_client):
    frank = UserFactory(username="frank")
    prefix = "memberships"
    data = {
        "name": "new.example.org",
        "description": "A new VO",
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-0-user": frank.pk,
        f"{prefix}-0-roles": '["member"]',
        f"{prefix}-0-groups": "[]",
        f"{prefix}-0-manager": "on",
    }
    response = admin_client.post(reverse("admin:egiportal_virtualorganisation_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    vo = VirtualOrganisation.objects.get(name="new.example.org")
    assert vo.memberships.get().source == LOCAL
    entry = AuditLog.objects.get(content_type__model="virtualorganisation", object_id=vo.pk)
    assert entry.action == AuditAction.CREATE and entry.after["managers"] == ["frank"]
    search = admin_client.get(reverse("admin:egiportal_virtualorganisation_changelist"), {"q": "new.example"})
    assert b"new.example.org" in search.content
    change = admin_client.get(reverse("admin:egiportal_virtualorganisation_change", args=[vo.pk]))
    assert change.status_code == 200 and b"1 membership row(s)" in change.content

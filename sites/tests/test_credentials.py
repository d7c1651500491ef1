"""API credentials of a site (specs/gocdb.md §2.15, §10): the site page card, add / renew / edit / delete
pages, who may use them, the portal token shown once, the PI accepting usable credentials only, the audit
log, hostile input, deletion of sites and owners, the admin, and a fixed page query count."""

import base64
import hashlib
import hmac
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import ProtectedError
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from egiportal.choices import AuditAction
from egiportal.models import AuditLog, Identity
from egiportal.tests.factories import UserFactory
from egiportal.validators import x509_dn
from sites import services
from sites.models import APICredential
from sites.tests.factories import NGIFactory, ProjectFactory, SiteFactory, api_credential, grant

pytestmark = pytest.mark.django_db

Kind = APICredential.Kind
DN = "/C=NL/O=Example/OU=Robots/CN=robot.example.org"
SUBJECT = "0123456789abcdef0123456789abcdef@egi.eu"


@pytest.fixture
def world():
    project = ProjectFactory(name="EGI-C")
    ngi, other_ngi = NGIFactory(name="NGI_C"), NGIFactory(name="NGI_D")
    project.ngis.add(ngi, other_ngi)
    site = SiteFactory(short_name="SITE-C", ngi=ngi)
    other_site = SiteFactory(short_name="SITE-D", ngi=other_ngi)
    users = {name: UserFactory(username=name) for name in ("site_admin", "other_admin", "ngi_man", "other_ngi_man")}
    users["plain"] = UserFactory(username="plain")
    users["root"] = UserFactory(username="root", is_superuser=True, is_staff=True)
    grant(users["site_admin"], "SITE_ADMIN", site)
    grant(users["other_admin"], "SITE_ADMIN", other_site)
    grant(users["ngi_man"], "NGI_OPS_MAN", ngi)
    grant(users["other_ngi_man"], "NGI_OPS_MAN", other_ngi)
    return {"site": site, "other_site": other_site, **users}


def as_user(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def add_url(site):
    return reverse("sites:site_credential_add", args=[site.pk])


def url(name, credential):
    return reverse(f"sites:{name}", args=[credential.pk])


def is_login_redirect(response):
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


def state(credential):
    """What must not change when an action is refused."""
    fresh = APICredential.objects.filter(pk=credential.pk).values().first()
    return fresh and {k: v for k, v in fresh.items() if k != "last_used"}


def pi(method, token, **params):
    """The body of a PI request carrying `token` as a bearer token, from a client with no session."""
    reply = Client().get("/gocdbpi/private/", {"method": method, **params}, HTTP_AUTHORIZATION=f"Bearer {token}")
    if reply.status_code == 401:  # a refused portal token: the reason, as text
        return reply.content
    assert reply.status_code == 200
    return b"".join(reply.streaming_content) if reply.streaming else reply.content


def issued_secret(response):
    """The token secret on the page shown after adding a portal token."""
    return response.content.decode().split('id="token"')[1].split('value="')[1].split('"')[0]


def audit_rows(credential):
    return list(AuditLog.objects.filter(content_type__model="apicredential", object_id=credential.pk).order_by("id"))


# --- who may do what ---------------------------------------------------------------------------

ALLOWED = ["site_admin", "ngi_man", "root"]
REFUSED = ["other_admin", "other_ngi_man", "plain"]


def attempts(world, credential):
    """Every page and action: (description, method, url, data)."""
    return [
        ("add form", "get", add_url(world["site"]), None),
        ("add", "post", add_url(world["site"]), {"kind": Kind.OIDC, "identifier": SUBJECT}),
        ("add token", "post", add_url(world["site"]), {"kind": Kind.TOKEN}),
        ("edit form", "get", url("credential_edit", credential), None),
        ("edit", "post", url("credential_edit", credential), {"allow_write": "on"}),
        ("renew", "post", url("credential_renew", credential), {}),
        ("delete form", "get", url("credential_delete", credential), None),
        ("delete", "post", url("credential_delete", credential), {}),
    ]


@pytest.mark.parametrize("who", REFUSED)
def test_users_without_a_role_over_the_site_are_refused_everything(world, who):
    credential = api_credential(world["site"], user=world["site_admin"], identifier=DN)
    before, client = state(credential), as_user(world[who])
    for name, method, target, data in attempts(world, credential):
        response = getattr(client, method)(target, data)
        assert response.status_code == 403, name
        assert "manage the API credentials of site SITE-C" in response.content.decode(), name
    assert state(credential) == before
    assert APICredential.objects.count() == 1 and not AuditLog.objects.filter(content_type__model="apicredential")


def test_anonymous_users_are_sent_to_log_in_and_change_nothing(world):
    credential = api_credential(world["site"], user=world["site_admin"], identifier=DN)
    before, client = state(credential), as_user(None)
    for name, method, target, data in attempts(world, credential):
        assert is_login_redirect(getattr(client, method)(target, data)), name
    assert state(credential) == before and APICredential.objects.count() == 1


@pytest.mark.parametrize("who", ALLOWED)
def test_site_admins_ngi_managers_and_portal_admins_may_do_everything(world, who):
    actor, site = world[who], world["site"]
    credential = api_credential(site, user=world["plain"], identifier=DN)
    client = as_user(actor)
    for name, method, target, data in attempts(world, credential):
        response = getattr(client, method)(target, data)
        assert response.status_code in (200, 302), (name, response.status_code)
    # The OIDC credential and the token were added by `actor`; the DN one was edited, renewed, deleted.
    kinds = sorted(APICredential.objects.filter(site=site, user=actor).values_list("kind", flat=True))
    assert kinds == sorted([Kind.OIDC, Kind.TOKEN])
    assert not APICredential.objects.filter(pk=credential.pk).exists()


def test_the_card_shows_the_credentials_to_those_who_may_manage_them_only(world):
    site = world["site"]
    api_credential(site, user=world["site_admin"], identifier=DN, allow_write=True)
    api_credential(site, user=world["ngi_man"], kind=Kind.OIDC, identifier=SUBJECT)
    token, _ = api_credential(site, user=world["ngi_man"], kind=Kind.TOKEN)
    for who in ("site_admin", "ngi_man", "root"):
        page = as_user(world[who]).get(site.get_absolute_url()).content.decode()
        assert 'id="api-credentials"' in page, who
        assert DN in page and SUBJECT in page and token.identifier in page, who
        assert reverse("sites:site_credential_add", args=[site.pk]) in page
        for name in ("credential_edit", "credential_renew", "credential_delete"):
            assert url(name, token) in page
    for who in (None, "plain", "other_admin", "other_ngi_man"):
        page = as_user(world.get(who)).get(site.get_absolute_url())
        assert page.status_code == 200
        text = page.content.decode()
        assert 'id="api-credentials"' not in text and DN not in text and SUBJECT not in text, who
        assert token.identifier not in text, who


# --- adding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, identifier", [(Kind.X509, DN), (Kind.X509, "/DC=org/DC=ex/CN=host/svc.example.org"), (Kind.OIDC, SUBJECT)]
)
def test_adding_a_dn_or_subject_makes_the_adder_owner_and_is_audited(world, kind, identifier):
    site, actor = world["site"], world["site_admin"]
    data = {"kind": kind, "identifier": f"  {identifier}  ", "allow_write": "on"}
    response = as_user(actor).post(add_url(site), data, follow=True)
    assert response.redirect_chain[-1][0] == site.get_absolute_url() + "#api-credentials"
    credential = APICredential.objects.get(site=site)
    assert (credential.kind, credential.identifier, credential.user, credential.allow_write) == (
        kind,
        identifier,
        actor,
        True,
    )
    assert credential.token_hash is None and credential.last_used is None
    assert "You are its owner" in response.content.decode()
    [entry] = audit_rows(credential)
    assert (entry.action, entry.user, entry.before) == (AuditAction.CREATE, actor, None)
    assert entry.after["identifier"] == identifier and entry.after["owner"] == "site_admin"
    assert entry.after["allow_write"] is True and entry.message == "API credential added"


def test_the_same_identifier_twice_on_a_site_is_a_form_error(world):
    site, client = world["site"], as_user(world["site_admin"])
    api_credential(site, identifier=DN)
    response = client.post(add_url(site), {"kind": Kind.X509, "identifier": DN})
    assert response.status_code == 400
    assert "This X.509 DN is already registered here." in response.content.decode()
    assert APICredential.objects.count() == 1
    # Another site may register the same DN, and this site the same string as another type.
    api_credential(world["other_site"], identifier=DN)
    assert client.post(add_url(site), {"kind": Kind.OIDC, "identifier": "robot@example.org"}).status_code == 302


def test_a_portal_token_is_shown_once_and_only_its_hash_is_kept(world):
    site, actor = world["site"], world["site_admin"]
    client = as_user(actor)
    response = client.post(add_url(site), {"kind": Kind.TOKEN, "identifier": "ignored for tokens"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    credential = APICredential.objects.get(site=site)
    secret = issued_secret(response)
    assert secret.startswith("egip_") and len(secret) > 40
    assert page.count(secret) == 1
    assert "this is the only time it is shown" in page
    assert 'curl -H "Authorization: Bearer &lt;token&gt;"' in page
    assert "/gocdbpi/private/?method=get_site&amp;sitename=SITE-C" in page
    # Stored: the digest and a short display prefix, never the secret.
    assert credential.token_hash == hmac.new(settings.SECRET_KEY.encode(), secret.encode(), "sha256").hexdigest()
    assert credential.identifier == secret[:12] + "…" and credential.user == actor
    stored = [str(v) for v in APICredential.objects.filter(pk=credential.pk).values().first().values()]
    assert not any(secret in value for value in stored)
    assert not any(secret in str(row.after) for row in AuditLog.objects.all())
    assert secret not in str(dict(client.session.items()))
    # Not shown again anywhere.
    assert secret not in client.get(site.get_absolute_url()).content.decode()
    assert secret not in client.get(url("credential_edit", credential)).content.decode()


def test_a_new_token_works_against_the_pi_and_its_use_is_recorded(world):
    site = world["site"]
    secret = issued_secret(as_user(world["site_admin"]).post(add_url(site), {"kind": Kind.TOKEN}))
    other, _ = api_credential(site, kind=Kind.TOKEN)
    reply = pi("access_test", secret)
    assert b"<authorized>true</authorized>" in reply and b'identifier="egip_' in reply
    reply = pi("get_site", secret, sitename="SITE-C")
    assert b'NAME="SITE-C"' in reply and b"<error>" not in reply
    assert APICredential.objects.get(site=site, user=world["site_admin"]).last_used is not None
    assert APICredential.objects.get(pk=other.pk).last_used is None
    # A wrong or malformed portal token is refused, saying why; other junk identifies nobody.
    for bad in (secret + "x", secret[:-1], "egip_" + "A" * 500):
        assert b"Unknown or revoked token." in pi("access_test", bad)
    assert b"No valid identifier found" in pi("access_test", "'; DROP TABLE x; --")


def test_the_issued_page_shows_a_basic_example_that_works(world):
    """The page after issuing shows how to send the token as HTTP Basic (ARGO's plain HTTP auth), and the
    example URL answers with it: any user name, the token as the password."""
    site = world["site"]
    page = as_user(world["site_admin"]).post(add_url(site), {"kind": Kind.TOKEN})
    secret = issued_secret(page)
    assert "curl -u 'any:&lt;token&gt;'" in page.content.decode()
    basic = base64.b64encode(f"argo:{secret}".encode()).decode()
    reply = Client().get(page.context["example_url"], HTTP_AUTHORIZATION=f"Basic {basic}")
    body = b"".join(reply.streaming_content) if reply.streaming else reply.content
    assert reply.status_code == 200 and b"<SITE " in body and b"<error>" not in body


def test_a_dn_added_in_the_browser_is_accepted_from_the_front_proxy(world, settings):
    settings.PI_CLIENT_DN_HEADER = "X-Client-DN"
    as_user(world["site_admin"]).post(add_url(world["site"]), {"kind": Kind.X509, "identifier": DN})
    reply = Client().get("/gocdbpi/private/", {"method": "access_test"}, HTTP_X_CLIENT_DN=DN)
    assert b"<authorized>true</authorized>" in reply.content
    assert f'identifier="{DN}"'.encode() in reply.content
    assert APICredential.objects.get(identifier=DN).last_used is not None


HOSTILE = [
    ({"kind": "X509"}, "kind", "Select a valid choice"),
    ({"kind": "Portal token' OR 1=1"}, "kind", "Select a valid choice"),
    ({"kind": ""}, "kind", "This field is required"),
    ({"kind": Kind.X509, "identifier": ""}, "identifier", "Enter the X.509 DN"),
    ({"kind": Kind.X509, "identifier": "   "}, "identifier", "Enter the X.509 DN"),
    ({"kind": Kind.OIDC, "identifier": ""}, "identifier", "Enter the OIDC subject"),
    ({"kind": Kind.X509, "identifier": "/C=NL/O=Ex\\, Inc/CN=x"}, "identifier", "backslash"),
    ({"kind": Kind.X509, "identifier": "CN=robot,O=Example,C=NL"}, "identifier", "slash form"),
    ({"kind": Kind.X509, "identifier": "/C=NL/CN=a\nb"}, "identifier", "slash form"),
    ({"kind": Kind.X509, "identifier": "/C=NL/CN=a\tb"}, "identifier", "slash form"),
    ({"kind": Kind.X509, "identifier": "/C=NL/CN=<script>alert(1)</script>"}, "identifier", "slash form"),
    ({"kind": Kind.X509, "identifier": "/C=NL/CN=O'Brien"}, "identifier", "are not allowed"),
    ({"kind": Kind.X509, "identifier": "/C=NL/CN=Jürgen"}, "identifier", "slash form"),
    ({"kind": Kind.X509, "identifier": "/"}, "identifier", "slash form"),
    ({"kind": Kind.X509, "identifier": "/CN=" + "a" * 252}, "identifier", "at most 255 characters"),
    ({"kind": Kind.X509, "identifier": "/CN=" + "a" * 10000}, "identifier", "at most 255 characters"),
    ({"kind": Kind.OIDC, "identifier": "abc def"}, "identifier", "without spaces"),
    ({"kind": Kind.OIDC, "identifier": "abc\x07def"}, "identifier", "without spaces"),
    ({"kind": Kind.OIDC, "identifier": "abc\x00def"}, "identifier", "Null characters"),
    ({"kind": Kind.OIDC, "identifier": "abc\u202edef"}, "identifier", "without spaces"),
    ({"kind": Kind.OIDC, "identifier": 'sub"<img/src=x>'}, "identifier", "are not allowed"),
    ({"kind": Kind.OIDC, "identifier": "s" * 256}, "identifier", "at most 255 characters"),
]


@pytest.mark.parametrize("data, field, message", HOSTILE, ids=[str(i) for i in range(len(HOSTILE))])
def test_hostile_or_oversized_input_is_a_form_error_and_saves_nothing(world, data, field, message):
    response = as_user(world["site_admin"]).post(add_url(world["site"]), {"allow_write": "on", **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["form"].errors[field]
    assert "<script>alert(1)" not in response.content.decode()
    assert not APICredential.objects.exists() and not AuditLog.objects.filter(content_type__model="apicredential")


def test_the_dn_check_does_not_backtrack_on_hostile_values():
    hostile = ["/a=" + "/a" * 125 + "!", "/a=b" + "/aa=b" * 50 + "!", "/a=" + "/b" * 125 + "=", "/a" * 127 + "="]
    for value in hostile:
        assert len(value) <= 255
        started = time.perf_counter()
        with pytest.raises(ValidationError):
            x509_dn(value)
        assert time.perf_counter() - started < 0.05, value


@pytest.mark.parametrize(
    "value",
    [DN, "/DC=org/DC=terena/DC=tcs/C=NL/O=Nikhef/CN=Jan de Vries jdv@nikhef.nl", "/C=UK/O=eScience/CN=host/a.b:8443"],
)
def test_real_world_dns_are_accepted(value):
    x509_dn(value)


# --- renewing, editing, deleting ---------------------------------------------------------------


def old_credential(site, owner, days, **kwargs):
    """A credential last renewed `days` ago, and its token secret (None unless a portal token)."""
    made = api_credential(site, user=owner, **kwargs)
    credential, token = made if isinstance(made, tuple) else (made, None)
    APICredential.objects.filter(pk=credential.pk).update(last_renewed=timezone.now() - timedelta(days=days))
    credential.refresh_from_db()
    return credential, token


def test_renewing_restarts_validity_and_transfers_ownership(world, settings):
    site, actor = world["site"], world["ngi_man"]
    credential, _ = old_credential(site, world["site_admin"], 100, identifier=DN)
    response = as_user(actor).post(url("credential_renew", credential), follow=True)
    assert "You are now its owner" in response.content.decode()
    credential.refresh_from_db()
    assert credential.user == actor and timezone.now() - credential.last_renewed < timedelta(minutes=1)
    [entry] = audit_rows(credential)
    assert entry.action == AuditAction.UPDATE and entry.message == "API credential renewed"
    assert (entry.before["owner"], entry.after["owner"]) == ("site_admin", "ngi_man")
    assert entry.before["last_renewed"] < entry.after["last_renewed"]


def test_renew_is_post_only(world):
    credential = api_credential(world["site"], identifier=DN)
    assert as_user(world["site_admin"]).get(url("credential_renew", credential)).status_code == 405


def test_editing_toggles_write_renews_and_transfers_ownership(world):
    site, actor = world["site"], world["site_admin"]
    credential, _ = old_credential(site, world["ngi_man"], 50, kind=Kind.OIDC, identifier=SUBJECT)
    client = as_user(actor)
    form = client.get(url("credential_edit", credential)).content.decode()
    assert SUBJECT in form and 'name="allow_write"' in form and "checked" not in form
    response = client.post(url("credential_edit", credential), {"allow_write": "on"}, follow=True)
    assert "it may use the write API" in response.content.decode()
    credential.refresh_from_db()
    assert credential.allow_write and credential.user == actor
    assert timezone.now() - credential.last_renewed < timedelta(minutes=1)
    client.post(url("credential_edit", credential), {})
    credential.refresh_from_db()
    assert not credential.allow_write
    entries = audit_rows(credential)
    assert [(e.before["allow_write"], e.after["allow_write"]) for e in entries] == [(False, True), (True, False)]


def test_deleting_asks_first_then_deletes_and_audits(world):
    site = world["site"]
    credential, secret = api_credential(site, kind=Kind.TOKEN)
    client = as_user(world["site_admin"])
    confirm = client.get(url("credential_delete", credential))
    assert confirm.status_code == 200 and credential.identifier in confirm.content.decode()
    assert APICredential.objects.filter(pk=credential.pk).exists()
    response = client.post(url("credential_delete", credential), follow=True)
    assert "Clients using it are refused from now on" in response.content.decode()
    assert not APICredential.objects.filter(pk=credential.pk).exists()
    [entry] = audit_rows(credential)
    assert entry.action == AuditAction.DELETE and entry.after is None and entry.before["kind"] == Kind.TOKEN
    assert pi("access_test", secret) == b"Unknown or revoked token."
    assert client.post(url("credential_delete", credential)).status_code == 404


def test_writes_need_the_csrf_token(world):
    credential = api_credential(world["site"], identifier=DN)
    before = state(credential)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["site_admin"])
    assert client.post(add_url(world["site"]), {"kind": Kind.TOKEN}).status_code == 403
    for name in ("credential_edit", "credential_renew", "credential_delete"):
        assert client.post(url(name, credential), {"allow_write": "on"}).status_code == 403, name
    assert state(credential) == before and APICredential.objects.count() == 1


def test_services_check_permission_and_notice_a_credential_deleted_meanwhile(world):
    credential = api_credential(world["site"], identifier=DN)
    with pytest.raises(PermissionDenied):
        services.renew_api_credential(world["other_admin"], credential)
    with pytest.raises(PermissionDenied):
        services.add_api_credential(world["plain"], world["site"], Kind.TOKEN)
    APICredential.objects.filter(pk=credential.pk).delete()
    for change in (services.renew_api_credential, services.delete_api_credential):
        with pytest.raises(ValidationError, match="no longer exists"):
            change(world["site_admin"], credential)


def test_the_audit_log_never_holds_a_token_digest(world):
    site, actor = world["site"], world["site_admin"]
    credential, secret = services.add_api_credential(actor, site, Kind.TOKEN, allow_write=True)
    digest = credential.token_hash
    services.edit_api_credential(actor, credential, False)
    services.renew_api_credential(world["ngi_man"], credential)
    services.delete_api_credential(actor, credential)
    entries = audit_rows(credential)
    assert [e.action for e in entries] == ["create", "update", "update", "delete"]
    for entry in entries:
        for snapshot in (entry.before or {}, entry.after or {}):
            assert "token_hash" not in snapshot
            assert digest not in str(snapshot) and secret not in str(snapshot)


# --- expiry ------------------------------------------------------------------------------------


def test_expired_credentials_are_marked_and_refused_by_the_pi_until_renewed(world, settings):
    settings.API_CREDENTIAL_MAX_AGE_DAYS = 100
    site = world["site"]
    expired, secret = old_credential(site, world["site_admin"], 101, kind=Kind.TOKEN)
    soon, soon_secret = old_credential(site, world["site_admin"], 80, kind=Kind.TOKEN)
    fresh, fresh_secret = old_credential(site, world["site_admin"], 0, kind=Kind.TOKEN)
    assert set(APICredential.objects.usable()) == {soon, fresh}
    page = as_user(world["site_admin"]).get(site.get_absolute_url()).content.decode()
    card = page.split('id="api-credentials"')[1].split("</table>")[0]
    rows = {c.identifier: card.split(c.identifier)[1].split("</tr>")[0] for c in (expired, soon, fresh)}
    assert ">expired<" in rows[expired.identifier] and "expires soon" not in rows[expired.identifier]
    assert ">expires soon<" in rows[soon.identifier] and ">expired<" not in rows[soon.identifier]
    assert "badge" not in rows[fresh.identifier]
    assert (expired.last_renewed + timedelta(days=100)).strftime("%Y-%m-%d") in rows[expired.identifier]
    assert pi("access_test", secret).startswith(b"Expired token: a site administrator must renew")
    assert b"<authorized>true</authorized>" in pi("access_test", soon_secret)
    services.renew_api_credential(world["site_admin"], expired)
    assert b"<authorized>true</authorized>" in pi("access_test", secret)


# --- deleting sites and owners -----------------------------------------------------------------


def test_deleting_a_site_deletes_its_credentials(world):
    site = world["site"]
    api_credential(site, user=world["site_admin"], identifier=DN)
    api_credential(site, user=world["site_admin"], kind=Kind.TOKEN)
    kept = api_credential(world["other_site"], user=world["site_admin"], identifier=DN)
    services.delete_site(world["root"], site)
    assert list(APICredential.objects.all()) == [kept]


def test_an_owner_of_credentials_cannot_be_deleted_until_they_are_handed_over(world):
    owner = world["site_admin"]
    credential = api_credential(world["site"], user=owner, identifier=DN)
    with pytest.raises(ProtectedError):
        owner.delete()
    services.renew_api_credential(world["ngi_man"], credential)  # the renewer takes it over
    owner.delete()
    assert APICredential.objects.get(pk=credential.pk).user == world["ngi_man"]


# --- admin -------------------------------------------------------------------------------------


def test_admin_lists_and_edits_credentials_without_showing_or_auditing_the_digest(world):
    credential, secret = api_credential(world["site"], user=world["site_admin"], kind=Kind.TOKEN)
    client = as_user(world["root"])
    listing = client.get(reverse("admin:sites_apicredential_changelist"), {"q": "SITE-C"})
    assert listing.status_code == 200 and credential.identifier in listing.content.decode()
    change_url = reverse("admin:sites_apicredential_change", args=[credential.pk])
    page = client.get(change_url).content.decode()
    assert credential.token_hash not in page and secret not in page
    data = {
        "user": world["ngi_man"].pk,
        "allow_write": "on",
        "last_renewed_0": "2030-01-01",
        "last_renewed_1": "00:00:00",
    }
    assert client.post(change_url, data).status_code == 302
    credential.refresh_from_db()
    assert credential.user == world["ngi_man"] and credential.allow_write
    [entry] = audit_rows(credential)
    assert entry.message == "Edited in the admin" and (entry.before["owner"], entry.after["owner"]) == (
        "site_admin",
        "ngi_man",
    )
    assert "token_hash" not in entry.after and credential.token_hash not in str(entry.after)
    # Credentials are added on the site page (format checks, token issuing), not in the admin.
    assert client.get(reverse("admin:sites_apicredential_add")).status_code == 403


def test_admin_manages_identities_audited(world):
    client = as_user(world["root"])
    data = {"user": world["plain"].pk, "realm": Identity.Realm.X509, "value": DN}
    assert client.post(reverse("admin:egiportal_identity_add"), data).status_code == 302
    identity = Identity.objects.get(value=DN)
    entry = AuditLog.objects.get(content_type__model="identity", object_id=identity.pk)
    assert entry.action == AuditAction.CREATE and entry.after == {"user": "plain", "realm": "X.509", "value": DN}
    assert client.get(reverse("admin:egiportal_identity_changelist"), {"q": "robot"}).status_code == 200


# --- query count -------------------------------------------------------------------------------


def count_queries(client, target):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(target)
    assert response.status_code == 200
    return len(captured)


def test_the_site_page_query_count_does_not_grow_with_credentials(world):
    site = world["site"]
    client = as_user(world["site_admin"])

    def grow(n):
        for i in range(n):
            owner = UserFactory()
            api_credential(site, user=owner, identifier=f"/C=NL/O=Example/CN=robot{APICredential.objects.count()}")
            api_credential(site, user=owner, kind=Kind.TOKEN)
            old_credential(site, owner, 400 + i, kind=Kind.OIDC, identifier=f"sub{owner.pk}@egi.eu")

    grow(1)
    few = count_queries(client, site.get_absolute_url())
    grow(15)
    page = client.get(site.get_absolute_url()).content.decode()
    assert page.count(">expired<") == 16
    assert count_queries(client, site.get_absolute_url()) == few


def test_a_token_stored_with_the_old_unkeyed_digest_still_works_and_is_upgraded(world):
    """Credentials issued before the keyed digest (plain SHA-256) keep working; the first use stores the
    keyed form, so the unkeyed digest is gone from the database."""
    credential, secret = api_credential(world["site"], kind=Kind.TOKEN)
    APICredential.objects.filter(pk=credential.pk).update(token_hash=hashlib.sha256(secret.encode()).hexdigest())
    assert b"<authorized>true</authorized>" in pi("access_test", secret)
    keyed = hmac.new(settings.SECRET_KEY.encode(), secret.encode(), "sha256").hexdigest()
    assert APICredential.objects.get(pk=credential.pk).token_hash == keyed
    assert b"<authorized>true</authorized>" in pi("access_test", secret)

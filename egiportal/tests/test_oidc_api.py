"""EGI Check-in access tokens on the REST API and the PI's private interface, with real tokens issued by
the local OpenID provider (tests/oidc_op) through its code flow; and the VO resource they authorise."""

import json
import time

import pytest
from django.core.cache import cache

from egiportal import oidc
from egiportal.api.testcases import api
from egiportal.models import AuditLog, Identity, User, VirtualOrganisation, VOMembership
from egiportal.testing_oidc import OP_DIR, LocalOP
from egiportal.tests.factories import UserFactory
from sites.models import APICredential
from sites.tests.factories import SiteFactory, api_credential, grant

pytestmark = pytest.mark.django_db

ACCOUNTS = json.loads((OP_DIR / "accounts.json").read_text())
ME = "/api/v1/users/me/"
VOS = "/api/v1/vos/"
GOCDB = "urn:mace:egi.eu:res:gocdb#aai.egi.eu"


@pytest.fixture
def tokens(checkin_api):
    """A real access token per test account (a code flow each); new ones for every test, as the
    portal remembers a token's user for OIDC_USERINFO_CACHE_SECONDS."""
    return {login: checkin_api.tokens(login, f"{login}-pw")["access_token"] for login in ("alice", "bob", "carol")}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def call(client, method, path, token, data=None):
    return api(client, method, path, data, headers=bearer(token))


def vo_id(name):
    return VirtualOrganisation.objects.get(name=name).pk


def test_a_token_maps_to_the_same_user_as_the_browser_login(client, checkin_api, tokens):
    reply = call(client, "GET", ME, tokens["alice"])
    assert reply.status_code == 200, reply.content
    me = reply.json()
    claims = ACCOUNTS["alice"]["claims"]
    assert me["username"] == claims["sub"] and me["email"] == claims["email"]
    assert {"realm": Identity.Realm.CHECKIN, "value": claims["sub"]} in me["identities"]
    managed = [m["vo"] for m in me["vo_memberships"] if m["manager"]]
    assert managed == ["vo.example.org"] and len(me["vo_memberships"]) > 10
    # The second call comes from the cache: the same user, no second account.
    assert call(client, "GET", ME, tokens["alice"]).json()["id"] == me["id"]
    assert User.objects.filter(identities__value=claims["sub"]).count() == 1


def test_vo_manager_may_edit_and_list_members_a_member_may_not(client, checkin_api, tokens):
    call(client, "GET", ME, tokens["bob"])  # bob's first use makes his account
    vo = f"{VOS}{call(client, 'GET', VOS + '?name=vo.example.org', tokens['alice']).json()['results'][0]['id']}/"
    change = {"description": "Example VO for the tests"}

    refused = call(client, "PATCH", vo, tokens["bob"], change)
    assert refused.status_code == 403 and "managers" in refused.json()["detail"]
    assert call(client, "GET", vo + "members/", tokens["bob"]).status_code == 403
    assert not AuditLog.objects.filter(object_repr="vo.example.org").exists()

    allowed = call(client, "PATCH", vo, tokens["alice"], change)
    assert allowed.status_code == 200 and allowed.json()["description"] == change["description"]
    assert AuditLog.objects.get(object_repr="vo.example.org").after == change
    members = call(client, "GET", vo + "members/", tokens["alice"])
    assert members.status_code == 200
    names = {row["user"]["username"]: row for row in members.json()["results"]}
    assert names[ACCOUNTS["alice"]["claims"]["sub"]]["manager"] is True
    assert names[ACCOUNTS["bob"]["claims"]["sub"]]["roles"] == ["member"]

    assert api(client, "PATCH", vo, change).status_code in (401, 403)
    assert api(client, "GET", vo + "members/").status_code in (401, 403)


def test_vo_list_is_public_filtered_and_has_a_fixed_query_count(client, django_assert_max_num_queries):
    manager = UserFactory(first_name="Vera", last_name="Manager")
    for n in range(8):
        vo = VirtualOrganisation.objects.create(name=f"vo{n}.example.org", description="A test VO")
        VOMembership.objects.create(user=manager, vo=vo, manager=True, roles=["member"])
        VOMembership.objects.create(user=UserFactory(), vo=vo, roles=["member"], source="checkin")
    with django_assert_max_num_queries(4):
        reply = api(client, "GET", VOS)
    rows = reply.json()["results"]
    assert len(rows) == 8 and rows[0]["members"] == 2 and rows[0]["managers"] == ["Vera Manager"]
    assert [r["name"] for r in api(client, "GET", f"{VOS}?q=vo3").json()["results"]] == ["vo3.example.org"]
    assert api(client, "GET", f"{VOS}?name=vo5.example.org").json()["count"] == 1
    for bad in ("nope=1", "q=" + "x" * 300, "q=%00"):
        assert api(client, "GET", f"{VOS}?{bad}").status_code == 400, bad


def test_vo_writes_refuse_other_fields_and_bad_values(client, checkin_api, tokens):
    call(client, "GET", ME, tokens["alice"])
    vo = f"{VOS}{vo_id('vo.example.org')}/"
    for body in ({"name": "renamed.example.org"}, {"description": "x" * 501}, {"description": "bad\x00"}):
        reply = call(client, "PATCH", vo, tokens["alice"], body)
        assert reply.status_code == 400, (body, reply.content)
    assert VirtualOrganisation.objects.get(pk=vo_id("vo.example.org")).description == ""
    assert call(client, "POST", VOS, tokens["alice"], {"name": "new.example.org"}).status_code == 405
    assert call(client, "DELETE", vo, tokens["alice"]).status_code == 405


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-token-the-provider-issued",
        "Bearer two values",
        "Bearer " + "x" * 9000,
    ],
)
def test_a_bad_token_is_401(client, checkin_api, header):
    reply = client.get(ME, headers={"Authorization": header})
    assert reply.status_code == 401, reply.content
    assert reply.json()["detail"]


def test_a_non_ascii_token_is_401(client, checkin_api):
    reply = client.get(ME, HTTP_AUTHORIZATION="Bearer t\u00f6ken".encode().decode("latin-1"))
    assert reply.status_code == 401


def test_a_revoked_token_is_401_once_the_cache_has_expired(client, checkin_api, settings):
    token = checkin_api.tokens("bob", "bob-pw")["access_token"]
    assert call(client, "GET", ME, token).status_code == 200
    checkin_api.revoke(token)
    # Remembered for OIDC_USERINFO_CACHE_SECONDS: the price of not asking the provider at every call.
    assert call(client, "GET", ME, token).status_code == 200
    cache.delete(oidc._cache_key("bearer", token))  # as when OIDC_USERINFO_CACHE_SECONDS have passed
    assert call(client, "GET", ME, token).status_code == 401


def test_an_expired_token_is_401(client, settings):
    with LocalOP(["http://127.0.0.1:9/oidc/callback/"], access_ttl=4) as op:  # whole seconds: it lives 3 to 4 s
        settings.OIDC_OP_ISSUER, settings.OIDC_RP_CLIENT_ID = op.issuer, op.client_id
        settings.OIDC_RP_CLIENT_SECRET, settings.OIDC_USERINFO_CACHE_SECONDS = op.client_secret, 0
        token = op.tokens("bob", "bob-pw")["access_token"]
        assert call(client, "GET", ME, token).status_code == 200
        time.sleep(4.5)
        assert call(client, "GET", ME, token).status_code == 401


def test_introspection_mode(client, checkin_api, settings):
    settings.OIDC_INTROSPECT = True
    settings.OIDC_USERINFO_CACHE_SECONDS = 0
    token = checkin_api.tokens("bob", "bob-pw")["access_token"]
    assert call(client, "GET", ME, token).status_code == 200
    checkin_api.revoke(token)
    assert call(client, "GET", ME, token).status_code == 401


def test_a_valid_token_without_the_required_entitlement_is_403(client, checkin_api, tokens, settings):
    settings.OIDC_REQUIRED_ENTITLEMENT = GOCDB
    settings.OIDC_USERINFO_CACHE_SECONDS = 0
    reply = call(client, "GET", ME, tokens["carol"])
    assert reply.status_code == 403 and GOCDB in reply.json()["detail"]
    assert not Identity.objects.filter(value=ACCOUNTS["carol"]["claims"]["sub"]).exists()


def test_an_unreachable_provider_is_503(client, settings, db):
    settings.OIDC_OP_ISSUER, settings.OIDC_RP_CLIENT_ID = "http://127.0.0.1:9", "portal"
    settings.OIDC_USERINFO_CACHE_SECONDS = 0
    reply = client.get(ME, headers=bearer("some-token"))
    assert reply.status_code == 503 and "could not be reached" in reply.json()["detail"]


def test_without_checkin_configured_a_bearer_token_is_401(client, settings, db):
    settings.OIDC_OP_ISSUER = ""
    assert client.get(ME, headers=bearer("some-token")).status_code == 401


# --- the PI's private interface ------------------------------------------------------------------


def pi(client, method, token, **params):
    query = "&".join(f"{k}={v}" for k, v in {"method": method, **params}.items())
    return client.get(f"/gocdbpi/private/?{query}", headers=bearer(token))


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_pi_private_methods_take_checkin_tokens(client, checkin_api, tokens):
    site = SiteFactory(short_name="PI-SITE")
    # A role-less user is identified but may not read personal data (GOCDB's reply, HTTP 200).
    denied = pi(client, "get_user", tokens["bob"])
    assert denied.status_code == 200 and b"Authorisation required" in denied.content
    bob = User.objects.get(identities__value=ACCOUNTS["bob"]["claims"]["sub"])
    grant(bob, "SITE_ADMIN", site)
    allowed = pi(client, "get_user", tokens["bob"])
    assert allowed.status_code == 200 and b"<EGEE_USER" in body(allowed)
    # A site's registered OIDC-subject credential is honoured for the token's subject.
    api_credential(site, kind=APICredential.Kind.OIDC, identifier=ACCOUNTS["alice"]["claims"]["sub"])
    contacts = pi(client, "get_site_contacts", tokens["alice"], sitename="PI-SITE")
    assert contacts.status_code == 200 and b"<SITE " in body(contacts)


def test_pi_refuses_a_bad_token_with_401(client, checkin_api):
    reply = pi(client, "get_user", "not-a-token")
    assert reply.status_code == 401 and reply["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/gocdbpi/public/?method=get_site", headers=bearer("not-a-token")).status_code == 401

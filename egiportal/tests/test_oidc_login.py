"""EGI Check-in login end to end: the portal's live server against the real local OpenID provider
(tests/oidc_op), with python-requests acting as the browser. The Chromium run is in test_oidc_browser.py."""

import json
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from django.core.exceptions import SuspiciousOperation

from egiportal import oidc
from egiportal.models import Identity, User, VirtualOrganisation, VOMembership
from egiportal.testing_oidc import OP_DIR, LoginError, browser_login
from egiportal.tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

ACCOUNTS = json.loads((OP_DIR / "accounts.json").read_text())
GOCDB = "urn:mace:egi.eu:res:gocdb#aai.egi.eu"


def sub(login):
    return ACCOUNTS[login]["claims"]["sub"]


def log_in(live_server, login, password=None, next_path="/profile/", session=None):
    """Log `login` in from the portal's "Log in with EGI Check-in" link; the final response."""
    session = session or requests.Session()
    url = f"{live_server.url}/oidc/authenticate/?next={next_path}"
    response = browser_login(session, url, login, password or f"{login}-pw")
    response.session = session
    return response


def user_of(login):
    return User.objects.get(identities__realm=Identity.Realm.CHECKIN, identities__value=sub(login))


def memberships(user, source=VOMembership.Source.CHECKIN):
    return {m.vo.name: m for m in user.vo_memberships.filter(source=source).select_related("vo")}


def test_login_page_offers_both_ways(live_server, checkin):
    page = requests.get(f"{live_server.url}/login/?next=/sites/", timeout=10).text
    assert 'id="checkin-login"' in page and "/oidc/authenticate/?next=/sites/" in page
    assert 'id="id_password"' in page


def test_a_vo_manager_logs_in(live_server, checkin):
    response = log_in(live_server, "alice")
    assert response.status_code == 200 and urlsplit(response.url).path == "/profile/"
    claims = ACCOUNTS["alice"]["claims"]
    alice = user_of("alice")
    assert (alice.first_name, alice.last_name, alice.email) == (
        claims["given_name"],
        claims["family_name"],
        claims["email"],
    )
    assert alice.username == claims["sub"] and not alice.has_usable_password()
    vos = memberships(alice)
    expected = {value.split(":")[4] for value in claims["eduperson_entitlement"] if ":role=member#aai.egi.eu" in value}
    assert set(vos) == expected and "vo.example.org" in vos
    main = vos["vo.example.org"]
    assert main.manager and {"member", "vm_operator"} <= set(main.roles) and {"admins", "compute"} <= set(main.groups)
    assert [name for name, m in vos.items() if m.manager] == ["vo.example.org"]
    # The VO page names its manager.
    page = requests.get(f"{live_server.url}/vos/vo.example.org/", timeout=10).text
    assert claims["family_name"] in page


def test_members_roles_and_other_entitlement_shapes(live_server, checkin):
    log_in(live_server, "bob")
    log_in(live_server, "victor")
    bob, victor = user_of("bob"), user_of("victor")
    # Bob's GOCDB role and legacy entitlements are not VO memberships.
    assert sorted(memberships(bob)) == ["other.vo.eu", "vo.example.org"]
    assert not any(m.manager for m in memberships(bob).values())
    fedcloud = memberships(victor)["fedcloud.egi.eu"]
    assert set(fedcloud.roles) == {"member", "vm_operator"} and not fedcloud.manager


def test_an_expired_membership_disappears_and_local_ones_stay(live_server, checkin):
    erin = UserFactory(username="erin-local")
    Identity.objects.create(user=erin, realm=Identity.Realm.CHECKIN, value=sub("erin"))
    example = VirtualOrganisation.objects.create(name="vo.example.org")
    kept = VirtualOrganisation.objects.create(name="kept.example.org")
    VOMembership.objects.create(user=erin, vo=example, roles=["member"], source=VOMembership.Source.CHECKIN)
    VOMembership.objects.create(user=erin, vo=kept, roles=["member"], manager=True)  # local override

    response = log_in(live_server, "erin")
    assert response.status_code == 200
    # vm_operator without member, and a membership from another authority, make no membership.
    assert memberships(erin) == {}
    assert set(memberships(erin, VOMembership.Source.LOCAL)) == {"kept.example.org"}
    assert user_of("erin") == erin  # keyed by voperson_id, not by user name or e-mail


def test_users_are_keyed_by_identifier_never_by_email(live_server, checkin):
    squatter = UserFactory(username="someone", email=ACCOUNTS["bob"]["claims"]["email"])
    log_in(live_server, "bob")
    assert user_of("bob") != squatter
    squatter.refresh_from_db()
    assert not squatter.identities.exists() and not squatter.vo_memberships.exists()


def test_names_and_email_are_refreshed_at_each_login(live_server, checkin):
    log_in(live_server, "bob")
    User.objects.filter(pk=user_of("bob").pk).update(first_name="Old", email="old@example.org")
    VOMembership.objects.filter(user=user_of("bob")).update(roles=["stale"])
    log_in(live_server, "bob")
    bob = user_of("bob")
    assert (bob.first_name, bob.email) == (ACCOUNTS["bob"]["claims"]["given_name"], ACCOUNTS["bob"]["claims"]["email"])
    assert all(m.roles == ["member"] for m in memberships(bob).values())
    assert User.objects.filter(identities__value=sub("bob")).count() == 1


def test_required_entitlement_refuses_with_a_clear_page(live_server, checkin, settings):
    settings.OIDC_REQUIRED_ENTITLEMENT = GOCDB
    response = log_in(live_server, "carol")
    assert response.status_code == 403
    assert GOCDB in response.text and 'id="login-refused"' in response.text
    assert not Identity.objects.filter(value=sub("carol")).exists()
    assert requests.get(f"{live_server.url}/profile/", cookies=response.session.cookies, timeout=10).history
    # Bob holds it.
    assert log_in(live_server, "bob").status_code == 200


def test_wrong_password_logs_nobody_in(live_server, checkin):
    session = requests.Session()
    with pytest.raises(LoginError, match="invalid username or password"):
        log_in(live_server, "alice", password="wrong", session=session)
    assert not User.objects.filter(identities__value=sub("alice")).exists()
    profile = session.get(f"{live_server.url}/profile/", timeout=10, allow_redirects=False)
    assert profile.status_code == 302 and "/login/" in profile.headers["Location"]


def test_silent_refresh_after_expiry(live_server, checkin, settings):
    settings.OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = 1
    response = log_in(live_server, "bob")
    time.sleep(1.5)
    again = response.session.get(f"{live_server.url}/profile/", timeout=10)
    hops = [r.url for r in again.history]
    assert again.status_code == 200 and urlsplit(again.url).path == "/profile/"
    assert any(url.startswith(checkin.issuer) and "prompt=none" in url for url in hops), hops
    assert any("/oidc/callback/" in url for url in hops)
    # Background (htmx) requests and the APIs are not sent to the provider.
    time.sleep(1.5)
    for path, headers in (("/profile/", {"HX-Request": "true"}), ("/api/v1/users/me/", {})):
        quiet = response.session.get(f"{live_server.url}{path}", headers=headers, allow_redirects=False, timeout=10)
        assert quiet.status_code == 200, path


def test_silent_refresh_without_a_provider_session_asks_to_log_in_again(live_server, checkin, settings):
    settings.OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = 1
    response = log_in(live_server, "bob")
    for name in ("_session", "_session.sig", "_session.legacy", "_session.legacy.sig"):
        response.session.cookies.pop(name, None)  # the provider's session is gone
    time.sleep(1.5)
    again = response.session.get(f"{live_server.url}/profile/", timeout=10)
    assert urlsplit(again.url).path == "/login/"


def test_logout_ends_both_sessions(live_server, checkin):
    response = log_in(live_server, "alice")
    session = response.session
    csrf = session.cookies.get("csrftoken")
    out = session.post(
        f"{live_server.url}/logout/",
        data={"csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{live_server.url}/profile/"},
        allow_redirects=False,
        timeout=10,
    )
    assert out.status_code == 302
    target = out.headers["Location"]
    assert target.startswith(checkin.discovery["end_session_endpoint"])
    query = parse_qs(urlsplit(target).query)
    assert query["post_logout_redirect_uri"] == [f"{live_server.url}/"] and query["client_id"] == ["portal"]
    assert jwt.decode(query["id_token_hint"][0], options={"verify_signature": False})["sub"] == sub("alice")
    # The portal session is over; the provider shows its sign-out confirmation.
    assert session.get(f"{live_server.url}/profile/", allow_redirects=False, timeout=10).status_code == 302
    assert 'id="logout-confirm"' in session.get(target, timeout=10).text


def test_local_login_works_beside_checkin_and_can_be_switched_off(live_server, checkin, client, settings):
    UserFactory(username="localadmin")
    assert client.post("/login/", {"username": "localadmin", "password": "pw"}).status_code == 302
    client.logout()
    settings.LOCAL_LOGIN = False
    refused = client.post("/login/", {"username": "localadmin", "password": "pw"})
    assert refused.status_code == 403 and b"switched off" in refused.content
    page = client.get("/login/").content.decode()
    assert 'id="checkin-login"' in page and 'id="id_password"' not in page


def test_linking_a_second_identity(live_server, checkin):
    response = log_in(live_server, "alice")
    session = response.session
    # prompt=login: the provider asks again although alice's session there is live.
    linked = browser_login(session, f"{live_server.url}/oidc/authenticate/?link=1&next=/profile/", "bob", "bob-pw")
    assert linked.status_code == 200 and urlsplit(linked.url).path == "/profile/", linked.text[:3000]
    alice = user_of("alice")
    assert set(alice.identities.values_list("value", flat=True)) == {sub("alice"), sub("bob")}
    # Logging in as bob now reaches alice's account, with the VO memberships of that identity.
    log_in(live_server, "bob")
    assert user_of("bob") == alice and User.objects.count() == 1


def test_linking_an_identity_of_another_account_is_refused(live_server, checkin):
    log_in(live_server, "bob")
    session = log_in(live_server, "alice").session
    refused = browser_login(session, f"{live_server.url}/oidc/authenticate/?link=1", "bob", "bob-pw")
    assert refused.status_code == 403 and "already linked to another" in refused.text
    assert user_of("bob") != user_of("alice")


def test_an_unreachable_provider_is_a_clear_page_and_local_login_still_works(live_server, settings, client):
    settings.OIDC_OP_ISSUER = "http://127.0.0.1:9"
    settings.OIDC_RP_CLIENT_ID = "portal"
    reply = client.get("/oidc/authenticate/")
    assert reply.status_code == 503 and b"could not be reached" in reply.content
    UserFactory(username="localadmin")
    assert client.post("/login/", {"username": "localadmin", "password": "pw"}).status_code == 302


def test_without_configuration_checkin_is_not_offered(client, settings, db):
    settings.OIDC_OP_ISSUER = ""
    assert b"checkin-login" not in client.get("/login/").content
    assert client.get("/oidc/authenticate/").status_code == 404


# --- the ID token checks, on real tokens of the provider ---------------------------------------


@pytest.fixture
def id_token(checkin):
    return checkin.tokens("bob", "bob-pw", nonce="n-1")["id_token"]


def test_a_genuine_id_token_verifies(id_token):
    assert oidc.CheckinBackend().verify_token(id_token, nonce="n-1")["sub"] == sub("bob")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"OIDC_RP_CLIENT_ID": "another-client"}, "another client"),
        ({"OIDC_OP_ISSUER": "http://127.0.0.1:9"}, "another issuer"),
    ],
)
def test_id_tokens_for_another_client_or_issuer_are_refused(id_token, checkin, settings, change, message):
    settings.OIDC_OP_JWKS_ENDPOINT = checkin.discovery["jwks_uri"]
    for name, value in change.items():
        setattr(settings, name, value)
    with pytest.raises(SuspiciousOperation, match=message):
        oidc.CheckinBackend().verify_token(id_token, nonce="n-1")


def test_a_wrong_nonce_or_a_forged_signature_is_refused(id_token):
    with pytest.raises(SuspiciousOperation, match="Nonce"):
        oidc.CheckinBackend().verify_token(id_token, nonce="another")
    header, payload, signature = id_token.split(".")
    forged = ".".join([header, payload, signature[:-4] + ("AAAA" if not signature.endswith("AAAA") else "BBBB")])
    with pytest.raises((SuspiciousOperation, jwt.PyJWTError)):
        oidc.CheckinBackend().verify_token(forged, nonce="n-1")
    unsigned = jwt.encode(jwt.decode(id_token, options={"verify_signature": False}), key=None, algorithm="none")
    with pytest.raises(SuspiciousOperation):
        oidc.CheckinBackend().verify_token(unsigned, nonce="n-1")


def test_pages_work_while_the_provider_is_down(live_server, checkin, settings):
    settings.OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = 1
    session = log_in(live_server, "bob").session
    time.sleep(1.5)
    settings.OIDC_OP_ISSUER = "http://127.0.0.1:9"  # the renewal's discovery fails
    page = session.get(f"{live_server.url}/profile/", timeout=10)
    assert page.status_code == 200 and urlsplit(page.url).path == "/profile/"


@pytest.mark.parametrize(
    "query, status, text",
    [
        ("error=access_denied&error_description=nope", 403, "refused the login (access_denied)"),
        ("error=%3Cscript%3Ealert(1)%3C/script%3E", 403, "&lt;script&gt;"),
        ("code=forged&state=unknown", 403, "could not be completed"),  # no login was started here
        ("", 403, "could not be completed"),
    ],
)
def test_hostile_callbacks_are_refused_cleanly(client, checkin, query, status, text):
    reply = client.get(f"/oidc/callback/?{query}")
    assert reply.status_code == status and text in reply.content.decode()
    assert not User.objects.exists()


def test_a_callback_with_an_unknown_state_is_a_400(client, checkin):
    client.get("/oidc/authenticate/")  # a login in progress: the session holds its state
    reply = client.get("/oidc/callback/?code=forged&state=not-the-one")
    assert reply.status_code == 400 and not User.objects.exists()


def test_a_forged_code_is_refused(client, checkin):
    start = client.get("/oidc/authenticate/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    reply = client.get(f"/oidc/callback/?code=forged&state={state}")
    assert reply.status_code == 403 and "could not be reached or gave an answer" in reply.content.decode()
    assert not User.objects.exists()

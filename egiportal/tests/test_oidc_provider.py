"""The local OpenID provider (tests/oidc_op) on its own, without Django (spec B4): the portal's login tests rely on it
behaving like EGI Check-in where it matters."""

import re
import secrets
from urllib.parse import urlencode

import jwt
import pytest
import requests

from egiportal.testing_oidc import LoginError

GROUP = "urn:mace:egi.eu:group:"
ALICE_SUB = "1" * 64 + "@egi.eu"


@pytest.fixture(scope="module")
def alice(oidc_op_standalone):
    """Alice's token response and the nonce her authorization request carried."""
    nonce = secrets.token_urlsafe(16)
    return oidc_op_standalone.tokens("alice", "alice-pw", nonce=nonce), nonce


def test_discovery_is_check_in_like(oidc_op_standalone):
    op = oidc_op_standalone
    meta = op.discovery
    assert op.issuer.startswith("http://127.0.0.1:")
    assert meta["issuer"] == op.issuer
    for name, path in [
        ("authorization_endpoint", "/auth"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/me"),
        ("jwks_uri", "/jwks"),
        ("end_session_endpoint", "/session/end"),
        ("introspection_endpoint", "/token/introspection"),
        ("revocation_endpoint", "/token/revocation"),
    ]:
        assert meta[name] == op.issuer + path
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert {"openid", "profile", "email", "voperson_id", "eduperson_entitlement", "aarc"} <= set(
        meta["scopes_supported"]
    )
    [key] = requests.get(meta["jwks_uri"], timeout=5).json()["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert key["kid"].startswith("test-") and "d" not in key


def test_code_flow_gives_an_rs256_id_token_that_verifies_against_the_jwks(oidc_op_standalone, alice):
    op = oidc_op_standalone
    tokens, nonce = alice
    assert (
        tokens["token_type"] == "Bearer" and tokens["scope"] == "openid profile email voperson_id eduperson_entitlement"
    )
    header = jwt.get_unverified_header(tokens["id_token"])
    assert header["alg"] == "RS256"
    keys = jwt.PyJWKSet.from_dict(requests.get(op.discovery["jwks_uri"], timeout=5).json())
    claims = jwt.decode(
        tokens["id_token"], keys[header["kid"]].key, algorithms=["RS256"], audience=op.client_id, issuer=op.issuer
    )
    assert claims["sub"] == ALICE_SUB
    assert claims["nonce"] == nonce
    # As at Check-in, authorisation data comes from userinfo only (conformIdTokenClaims).
    assert "eduperson_entitlement" not in claims


def test_userinfo_carries_voperson_id_and_alices_entitlements(oidc_op_standalone, alice):
    response = oidc_op_standalone.userinfo(alice[0]["access_token"])
    assert response.status_code == 200
    info = response.json()
    assert info["sub"] == info["voperson_id"] == ALICE_SUB
    assert info["email"] == "alice@example.org" and info["email_verified"] is True
    entitlements = info["eduperson_entitlement"]
    assert len(entitlements) == 30
    assert {
        f"{GROUP}vo.example.org:role=member#aai.egi.eu",
        f"{GROUP}vo.example.org:role=vm_operator#aai.egi.eu",
        f"{GROUP}vo.example.org:admins:role=member#aai.egi.eu",
        f"{GROUP}vo.example.org:admins:role=owner#aai.egi.eu",
        "urn:mace:egi.eu:res:gocdb#aai.egi.eu",
        f"{GROUP}eosc-synergy.eu:worsica%3Aprocessing:role=member#aai.egi.eu",
    } <= set(entitlements)
    # Scopes not requested release nothing.
    assert "eduperson_assurance" not in info and "eduperson_scoped_affiliation" not in info


def test_bobs_userinfo_has_his_entitlements(oidc_op_standalone):
    op = oidc_op_standalone
    info = op.userinfo(op.tokens("bob", "bob-pw")["access_token"]).json()
    assert info["voperson_id"] == "2" * 64 + "@egi.eu"
    assert info["eduperson_entitlement"] == [
        f"{GROUP}vo.example.org:role=member#aai.egi.eu",
        f"{GROUP}other.vo.eu:role=member#aai.egi.eu",
        "urn:mace:egi.eu:res:gocdb#aai.egi.eu",
        "urn:mace:egi.eu:goc.egi.eu:100453G0:GRIDOPS-CheckIn:Site+Administrator@egi.eu",
        "urn:mace:egi.eu:aai.egi.eu:member@vo.example.org",
    ]


def test_claims_follow_the_granted_scopes(oidc_op_standalone):
    op = oidc_op_standalone
    narrow = op.userinfo(op.tokens("carol", "carol-pw", scope="openid voperson_id")["access_token"]).json()
    assert narrow == {"sub": "3" * 64 + "@egi.eu", "voperson_id": "3" * 64 + "@egi.eu"}
    # aarc = profile + email + voperson_id; carol has no entitlements at all, so none are released.
    wide = op.userinfo(op.tokens("carol", "carol-pw", scope="openid aarc eduperson_entitlement")["access_token"]).json()
    assert wide["preferred_username"] == "carol" and wide["voperson_id"] == wide["sub"]
    assert "eduperson_entitlement" not in wide


def test_a_wrong_password_raises(oidc_op_standalone):
    with pytest.raises(LoginError, match="invalid username or password"):
        oidc_op_standalone.tokens("alice", "not-alice-pw")
    with pytest.raises(LoginError, match="invalid username or password"):
        oidc_op_standalone.tokens("mallory", "mallory-pw")


def test_introspection_then_revocation(oidc_op_standalone):
    op = oidc_op_standalone
    access = op.tokens("victor", "victor-pw")["access_token"]
    answer = op.introspect(access)
    assert answer["active"] is True
    assert answer["client_id"] == op.client_id and answer["sub"] == "4" * 64 + "@egi.eu"
    op.revoke(access)
    response = op.userinfo(access)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert op.introspect(access) == {"active": False}


def test_an_unregistered_redirect_uri_is_refused(oidc_op_standalone):
    op = oidc_op_standalone
    params = {
        "response_type": "code",
        "client_id": op.client_id,
        "redirect_uri": "http://localhost:9/oidc/callback/",
        "scope": "openid",
        "state": "s",
    }
    response = requests.get(f"{op.endpoint('authorization')}?{urlencode(params)}", allow_redirects=False, timeout=5)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert re.search(r'<pre id="error">invalid_redirect_uri: redirect_uri did not match', response.text)

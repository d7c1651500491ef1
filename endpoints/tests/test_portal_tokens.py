"""One token scheme everywhere (egiportal.tokens, egiportal.identity): personal API tokens and site API
credentials' tokens on the REST API, the private PI and the write API, in the Bearer, Token and Basic
forms, with the permissions checked on both sides."""

import base64
import json

import pytest

from egiportal import services
from egiportal.tests.factories import UserFactory
from sites.choices import RoleType
from sites.models import APICredential
from sites.tests.factories import SiteFactory, api_credential, grant

pytestmark = pytest.mark.django_db

CONTACTS = "/gocdbpi/private/?method=get_site_contacts"


def forms(secret):
    return [f"Bearer {secret}", f"Token {secret}", "Basic " + base64.b64encode(f"argo:{secret}".encode()).decode()]


def body(response):
    return (b"".join(response.streaming_content) if response.streaming else response.content).decode()


@pytest.fixture
def site():
    return SiteFactory()


@pytest.fixture
def admin(site):
    user = UserFactory()
    grant(user, RoleType.SITE_ADMIN, site)
    return user


def test_a_personal_token_reads_rest_and_the_private_pi_in_every_form(client, site, admin):
    _, secret = services.create_api_token(admin, "ARGO connector")
    for header in forms(secret):
        assert client.get("/api/v1/sites/", headers={"Authorization": header}).status_code == 200
        text = body(client.get(CONTACTS, headers={"Authorization": header}))
        assert "<CONTACT " in text and admin.email in text, header


def test_a_personal_token_of_a_user_without_rights_cannot_read_personal_data(client, site, admin):
    _, secret = services.create_api_token(UserFactory(), "no role")
    for header in forms(secret):
        text = body(client.get(CONTACTS, headers={"Authorization": header}))
        assert text == "Authorisation required to read personal data (PROTECTED - Role required). ", header
    # The public methods still answer it.
    assert "<SITE " in body(
        client.get("/gocdbpi/public/?method=get_site_list", headers={"Authorization": forms(secret)[0]})
    )


def test_a_site_token_reads_rest_as_its_owner_and_may_not_write_there(client, site, admin):
    credential, secret = api_credential(site, admin, kind=APICredential.Kind.TOKEN, allow_write=True)
    for header in forms(secret):
        reply = client.get(f"/api/v1/sites/{site.pk}/", headers={"Authorization": header})
        assert reply.status_code == 200 and reply.json()["name"] == site.short_name
        patch = client.patch(
            f"/api/v1/sites/{site.pk}/", {"description": "x"}, content_type="application/json",
            headers={"Authorization": header},
        )  # fmt: skip
        assert patch.status_code == 403 and patch.json()["detail"].startswith("Read-only token"), header
    credential.refresh_from_db()
    assert credential.last_used is not None


def test_read_only_personal_tokens_cannot_write_and_write_enabled_ones_can(client, site, admin):
    _, read_only = services.create_api_token(admin, "reader")
    _, writer = services.create_api_token(admin, "writer", write_enabled=True)
    url, data = f"/api/v1/sites/{site.pk}/", {"description": "Changed with a token"}
    refused = client.patch(url, data, content_type="application/json", headers={"Authorization": f"Token {read_only}"})
    assert (
        refused.status_code == 403
        and refused.json()["detail"] == "Read-only token: it was issued without write access."
    )
    allowed = client.patch(url, data, content_type="application/json", headers={"Authorization": f"Bearer {writer}"})
    assert allowed.status_code == 200, allowed.content
    site.refresh_from_db()
    assert site.description == "Changed with a token"


def test_a_write_enabled_token_of_a_user_without_rights_cannot_write(client, site):
    _, writer = services.create_api_token(UserFactory(), "writer", write_enabled=True)
    reply = client.patch(
        f"/api/v1/sites/{site.pk}/", {"description": "x"}, content_type="application/json",
        headers={"Authorization": f"Token {writer}"},
    )  # fmt: skip
    assert reply.status_code in (403, 404)


def write_api(client, site, header):
    return client.generic(
        "PUT", f"/gocdbpi/v5/site/{site.pk}/extensionproperties", data=json.dumps({"a": "1"}).encode(),
        content_type="application/json", headers={"Authorization": header},
    )  # fmt: skip


def test_the_write_api_takes_a_site_token_in_every_form(client, site, admin):
    _, secret = api_credential(site, admin, kind=APICredential.Kind.TOKEN, allow_write=True)
    for header in forms(secret):
        assert write_api(client, site, header).status_code == 204, header


def test_the_write_api_refuses_read_only_site_tokens_and_personal_tokens_saying_why(client, site, admin):
    _, read_only = api_credential(site, admin, kind=APICredential.Kind.TOKEN, allow_write=False)
    reply = write_api(client, site, f"Bearer {read_only}")
    assert reply.status_code == 403 and "without write access" in reply.json()["Error"]["Message"]
    _, personal = services.create_api_token(admin, "writer", write_enabled=True)
    reply = write_api(client, site, f"Token {personal}")
    assert (
        reply.status_code == 403 and "personal API token cannot use the write API" in reply.json()["Error"]["Message"]
    )
    assert not site.properties.exists()


HOSTILE = [
    "Bearer egip_\u202e",
    "Token egit_" + "%00" * 10,
    "Token " + "egit_" + "x" * 5000,
    "Basic " + "A" * 10_000,
    "Basic =",
    "Basic " + base64.b64encode(b"u:" + b"egip_\xc3\x28").decode(),
    "Basic " + base64.b64encode(b"u:egip_" + b"x" * 300).decode(),
    "Bearer egip_a,egip_b",
    "Token egit_'; DROP TABLE egiportal_apitoken; --",
]


@pytest.mark.parametrize("header", HOSTILE)
def test_hostile_token_headers_are_refused_with_a_reason_never_a_server_error(client, site, header):
    rest = client.get("/api/v1/sites/", headers={"Authorization": header})
    assert rest.status_code == 401 and rest.json()["detail"], rest.content
    pi = client.get(CONTACTS, headers={"Authorization": header})
    assert pi.status_code == 401 and pi.content and "Check-in" not in pi.content.decode()
    write = write_api(client, site, header)
    assert write.status_code == 403 and write.json()["Error"]["Message"]
    assert "Check-in" not in rest.json()["detail"]

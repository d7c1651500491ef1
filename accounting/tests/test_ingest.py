"""Delivering messages as cASO produces them: over HTTP with a site's write-enabled API credential, and
through an SSM receiver's dirq queue by the signer's host DN. All or nothing; the sender's site only;
retries with a message id stored once; hostile bodies refused with the reason and nothing kept."""

import base64
from io import StringIO

import pytest
from dirq.queue import Queue
from django.core.management import call_command

from accounting import testing
from accounting.choices import MessageState
from accounting.models import AcceleratorRecord, CloudRecord, CloudSummary, IPRecord, RawMessage, StorageRecord
from accounting.receiver import INCOMING_SCHEMA
from endpoints.tests.factories import ServiceFactory, service_type
from sites.models import APICredential
from sites.tests.factories import SiteFactory, api_credential

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounting/messages/"


@pytest.fixture
def site():
    return SiteFactory(short_name=testing.SITE)


@pytest.fixture
def token(site):
    _credential, secret = api_credential(site, kind=APICredential.Kind.TOKEN, allow_write=True)
    return secret


def post(client, body, token=None, **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Token {token}"
    return client.post(URL, body, content_type="text/plain", **headers)


@pytest.fixture
def summarised(django_capture_on_commit_callbacks, eager_tasks):
    """Run the summary task of each stored message, as a worker would after commit."""

    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return run


def test_a_cloud_message_from_caso_is_stored_and_summarised(client, site, token, summarised):
    body = testing.cloud_message([{}, {"uuid": "a53738e1-13eb-4047-800c-067d14ce3d22", "cpu_count": 16}])
    reply = summarised(lambda: post(client, body, token))
    assert reply.status_code == 201, reply.content
    assert reply.json() == {"id": reply.json()["id"], "kind": "cloud", "records": 2, "site": site.short_name,
                            "duplicate": False}  # fmt: skip
    assert CloudRecord.objects.filter(site=site).count() == 2
    assert CloudSummary.objects.filter(site=site).count() == 2
    raw = RawMessage.objects.get()
    assert raw.state == MessageState.ACCEPTED and raw.body == body.decode()


@pytest.mark.parametrize(
    "build,model",
    [
        (lambda: testing.ip_message([{}]), IPRecord),
        (lambda: testing.accelerator_message([{}]), AcceleratorRecord),
        (lambda: testing.storage_message([{}]), StorageRecord),
        (lambda: testing.apel_framing(testing.cloud_message([{}])), CloudRecord),
    ],
)
def test_every_message_kind_is_accepted(client, site, token, build, model):
    reply = post(client, build(), token)
    assert reply.status_code == 201, reply.content
    assert model.objects.filter(site=site).count() == 1


def test_a_retry_with_the_same_message_id_is_stored_once(client, site, token):
    body = testing.cloud_message([{}])
    first = post(client, body, token, HTTP_X_MESSAGE_ID="6602a1b0/6602a1b0a1b2c3")
    again = post(client, body, token, HTTP_X_MESSAGE_ID="6602a1b0/6602a1b0a1b2c3")
    assert (first.status_code, again.status_code) == (201, 200) and again.json()["duplicate"] is True
    assert RawMessage.objects.count() == 1 and CloudRecord.objects.count() == 1


def test_records_of_another_site_refuse_the_whole_message(client, site, token):
    SiteFactory(short_name="OTHER-CLOUD")
    body = testing.cloud_message([{}, {"uuid": "a53738e1-13eb-4047-800c-067d14ce3d22", "site_name": "OTHER-CLOUD"}])
    reply = post(client, body, token)
    assert reply.status_code == 403 and "OTHER-CLOUD" in reply.json()["detail"]
    assert not CloudRecord.objects.exists()
    assert RawMessage.objects.get().state == MessageState.REJECTED


@pytest.mark.parametrize("who", ["nobody", "read-only", "other site", "personal token", "session", "bad token"])
def test_only_a_write_enabled_credential_of_the_site_may_send(client, site, who):
    from egiportal.services import create_api_token
    from egiportal.tests.factories import UserFactory

    body = testing.cloud_message([{}])
    token = None
    if who == "read-only":
        _c, token = api_credential(site, kind=APICredential.Kind.TOKEN, allow_write=False)
    elif who == "other site":
        _c, token = api_credential(
            SiteFactory(short_name="OTHER-CLOUD"), kind=APICredential.Kind.TOKEN, allow_write=True
        )
    elif who == "personal token":
        _t, token = create_api_token(UserFactory(), "mine", write_enabled=True)
    elif who == "session":
        client.force_login(UserFactory(is_superuser=True))
    elif who == "bad token":
        token = "egip_not-a-token"
    reply = post(client, body, token)
    assert reply.status_code in (401, 403), reply.content
    assert reply.json()["detail"]
    assert not CloudRecord.objects.exists()


def test_a_page_of_another_site_cannot_post(client, site, token):
    reply = post(client, testing.cloud_message([{}]), token, HTTP_ORIGIN="https://evil.example.org")
    assert reply.status_code == 403 and not CloudRecord.objects.exists()


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><sr:StorageUsageRecords '
    b'xmlns:sr="http://eu-emi.eu/namespaces/2011/02/storagerecord">&lol3;</sr:StorageUsageRecords>'
)


@pytest.mark.parametrize(
    "body,status,words",
    [
        (b"APEL-cloud-message-x: v0.4\nVMUUID: x\nSiteName: CESGA-CLOUD\n", 400, "not recognised"),
        (b"APEL-cloud-message: v0.4\nVMUUID: x\nSiteName: CESGA-CLOUD\nFoo: bar\n", 400, "Foo"),
        (b"APEL-cloud-message: v0.4\nVMUUID: x\nSiteName: CESGA-CLOUD\nWallDuration: 12.5\n", 400, "WallDuration"),
        (b"APEL-cloud-message: v0.4\nVMUUID: x\x00y\nSiteName: CESGA-CLOUD\n", 400, ""),
        (b"\xff\xfe not utf-8", 400, ""),
        (b"x" * (10 * 1024 * 1024), 413, ""),
        (b"APEL-cloud-message: v0.4\n" + b"VMUUID: a\nSiteName: CESGA-CLOUD\n%%\n" * 100_000, 413, ""),
        (BILLION_LAUGHS, 400, ""),
        (b'{"Type": "APEL Public IP message", "Version": "0.2", "UsageRecords": "nope"}', 400, "UsageRecords"),
        (b"", 400, ""),
    ],
)
def test_hostile_bodies_are_refused_with_the_reason_and_nothing_is_kept(client, site, token, body, status, words):
    reply = post(client, body, token)
    assert reply.status_code == status, reply.content
    assert words in reply.json()["detail"]
    assert not CloudRecord.objects.exists() and not StorageRecord.objects.exists() and not IPRecord.objects.exists()


def test_a_bad_record_names_its_number_and_field(client, site, token):
    good = testing.cloud_message([{}]).decode()
    body = good.rstrip("\n") + "\n%%\nVMUUID: second\nSiteName: CESGA-CLOUD\nMemory: lots\n"
    reply = post(client, body.encode(), token)
    assert reply.status_code == 400 and "record 2" in reply.json()["detail"] and "Memory" in reply.json()["detail"]
    assert not CloudRecord.objects.exists()


# ---------------------------------------------------------------- the SSM receiver's queue

SIGNER = "/DC=org/DC=example/CN=caso.cesga.example.org"


def accounting_service(site, dn=SIGNER, production=True):
    return ServiceFactory(site=site, service_type=service_type("eu.egi.cloud.accounting"), dn=dn, production=production)


def test_the_dirq_reader_stores_by_signer_and_rejects_with_the_reason(site, tmp_path):
    accounting_service(site)
    incoming = Queue(str(tmp_path / "incoming"), schema=INCOMING_SCHEMA)
    incoming.add({"body": testing.cloud_message([{}]).decode(), "signer": SIGNER, "empaid": "a/1"})
    incoming.add({"body": testing.cloud_message([{}]).decode(), "signer": SIGNER, "empaid": "a/1"})  # a replay
    incoming.add({"body": "APEL-cloud-message: v0.4\nFoo: bar\n", "signer": SIGNER, "empaid": "a/2"})
    incoming.add({"body": testing.cloud_message([{}]).decode(), "signer": "/CN=stranger", "empaid": "a/3"})
    out = StringIO()
    call_command("accounting_receive", str(tmp_path), stdout=out)
    assert "1 message(s) stored, 1 already stored, 2 rejected" in out.getvalue()
    assert CloudRecord.objects.filter(site=site).count() == 1
    reject = Queue(str(tmp_path / "reject"), schema={**INCOMING_SCHEMA, "error": "string"})
    errors = []
    for name in reject:
        reject.lock(name)
        errors.append(reject.get(name)["error"])
    assert any("Foo" in e for e in errors) and any("stranger" in e for e in errors)
    assert incoming.count() == 0


def test_a_signer_of_another_sites_service_cannot_send_for_this_one(site, tmp_path):
    other = SiteFactory(short_name="OTHER-CLOUD")
    accounting_service(other)
    accounting_service(site, dn="/CN=not-in-production", production=False)
    incoming = Queue(str(tmp_path / "incoming"), schema=INCOMING_SCHEMA)
    incoming.add({"body": testing.cloud_message([{}]).decode(), "signer": SIGNER, "empaid": ""})
    incoming.add({"body": testing.cloud_message([{}]).decode(), "signer": "/CN=not-in-production", "empaid": ""})
    call_command("accounting_receive", str(tmp_path / "incoming"), stdout=StringIO())
    assert not CloudRecord.objects.exists()
    assert RawMessage.objects.filter(state=MessageState.REJECTED).count() == 1  # the other site's message


def test_basic_auth_is_not_taken_for_accounting_messages(client, site, token):
    """A browser re-sends cached Basic credentials by itself; accounting takes the token in Token or Bearer form."""
    basic = "Basic " + base64.b64encode(f"x:{token}".encode()).decode()
    reply = client.post(URL, testing.cloud_message([{}]), content_type="text/plain", HTTP_AUTHORIZATION=basic)
    assert reply.status_code == 401 and "Token" in reply.json()["detail"]
    assert not CloudRecord.objects.exists()

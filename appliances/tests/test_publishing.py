"""Publishing VO lists end to end: curate a draft, publish, fetch the signed list over HTTP from a running
portal, verify it with the openssl command line against the demo CA and check it with every consumer's
rules; identifiers, versions and entry states; who may do it; private lists."""

import base64
import hashlib
import json
import threading
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from appliances import consumers, publishing, services
from appliances.choices import EntryState, IntegrityStatus, ListState, VersionState
from appliances.models import (
    ApplianceVersion,
    Image,
    ListSubscriber,
    PublishedArtefact,
    VirtualAppliance,
    VOImageList,
)
from appliances.tests.hepix_support import openssl
from conftest import require_or_skip
from egiportal.errors import Conflict, Invalid
from egiportal.models import VirtualOrganisation, VOMembership
from egiportal.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def published_version(author, name, version="1.0", *, days=300, images=1):
    """An appliance `name` (made if needed) with a verified, published `version` of `images` images."""
    appliance = VirtualAppliance.objects.filter(name=name).first()
    if appliance is None:
        appliance = services.save_appliance(author, VirtualAppliance(name=name, title=name.title()))
    row, _note = services.save_version(
        author, ApplianceVersion(appliance=appliance, version=version, expires=timezone.now() + timedelta(days=days))
    )
    for n in range(row.images.count(), images):  # a later version carries the published images on
        url = f"https://images.example.org/{name}/{n}.qcow2"
        services.save_image(author, Image(version=row, url=url, format="qcow2", os_name="Ubuntu", os_version="24.04"))
    for image in row.images.all():
        data = f"{name}-{version}-{image.url}".encode()
        Image.objects.filter(pk=image.pk).update(size=len(data), sha512=hashlib.sha512(data).hexdigest())
    ApplianceVersion.objects.filter(pk=row.pk).update(status=IntegrityStatus.VERIFIED)
    return services.publish_version(author, row)


@pytest.fixture
def author():
    return UserFactory(username="author")


@pytest.fixture
def vo():
    return VirtualOrganisation.objects.create(name="demo.egi.eu")


def member(vo, username, manager=False):
    user = UserFactory(username=username)
    VOMembership.objects.create(user=user, vo=vo, manager=manager, roles=["member"])
    return user


@pytest.fixture
def manager(vo):
    return member(vo, "manager", manager=True)


def test_a_published_list_verifies_with_openssl_and_passes_every_consumer(
    author, vo, manager, live_server, tmp_path, settings
):
    settings.PORTAL_URL = live_server.url
    published_version(author, "ubuntu", images=2)
    published_version(author, "alma")
    assert publishing.add_to_list(manager, vo, VirtualAppliance.objects.get(name="ubuntu")) == 2
    publishing.add_to_list(manager, vo, VirtualAppliance.objects.get(name="alma"))
    artefact = publishing.publish_list(manager, vo)

    with urllib.request.urlopen(f"{live_server.url}/store/vo/demo.egi.eu/image.list") as reply:
        signed = reply.read()
        assert reply.headers["ETag"] == f'"{artefact.sha256}"'
    path = tmp_path / "image.list"
    path.write_bytes(signed)
    pki = publishing.signing.ensure_demo_pki(__import__("pathlib").Path(settings.IMAGE_LIST_DEMO_PKI_DIR))
    result = openssl("smime", "-verify", "-in", str(path), "-CAfile", str(pki.ca_cert), "-purpose", "smimesign")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.startswith(b"{")  # no Content-Type header in the signed content (the -text trap)
    content = json.loads(result.stdout)
    signer = publishing.signer()
    assert consumers.problems(result.stdout, signer_dn=signer.dn, signer_ca=signer.ca_dn) == []
    document = content["hv:imagelist"]
    assert document["dc:identifier"] == str(uuid.uuid5(uuid.NAMESPACE_OID, "vowide_image_list:demo.egi.eu"))
    assert document["hv:endorser"]["hv:x509"]["hv:dn"] == signer.dn
    assert document["ad:vo"] == "demo.egi.eu" and len(document["hv:images"]) == 3
    image = Image.objects.filter(version__appliance__name="alma").get()
    ids = {i["hv:image"]["dc:identifier"] for i in document["hv:images"]}
    assert str(uuid.uuid5(uuid.NAMESPACE_OID, f"vowide_image_list_image:demo.egi.eu:{image.guid}")) in ids
    assert "null" not in result.stdout.decode()


def test_the_identifier_stays_and_the_version_rises_and_image_ids_survive_a_new_version(author, vo, manager):
    published_version(author, "ubuntu")
    ubuntu = VirtualAppliance.objects.get(name="ubuntu")
    publishing.add_to_list(manager, vo, ubuntu)
    first = publishing.publish_list(manager, vo)
    published_version(author, "ubuntu", "2.0")  # carries the image on: same guid
    rows = publishing.entry_rows(publishing.published_list(vo))
    assert [state for _e, state in rows] == [EntryState.OUTDATED]
    updated, skipped = publishing.update_outdated(manager, vo)
    assert updated == ["ubuntu"] and skipped == {}
    second = publishing.publish_list(manager, vo)
    assert second.identifier == first.identifier
    assert int(second.version) > int(first.version)
    ids = [json.loads(a.document)["hv:imagelist"]["hv:images"][0]["hv:image"]["dc:identifier"] for a in (first, second)]
    assert ids[0] == ids[1]
    assert VOImageList.objects.get(pk=publishing.published_list(vo).pk).version == second.version
    assert VOImageList.objects.filter(vo=vo, state=ListState.OBSOLETE).count() == 1


def test_nothing_new_is_refused_and_stores_nothing(author, vo, manager):
    published_version(author, "ubuntu")
    publishing.add_to_list(manager, vo, VirtualAppliance.objects.get(name="ubuntu"))
    publishing.publish_list(manager, vo)
    with pytest.raises(Conflict, match="Nothing to publish"):
        publishing.publish_list(manager, vo)
    assert PublishedArtefact.objects.filter(vo=vo).count() == 1


def test_expired_entries_are_refused_and_deleted_appliances_are_dropped(author, vo, manager):
    published_version(author, "ubuntu")
    published_version(author, "alma")
    for name in ("ubuntu", "alma"):
        publishing.add_to_list(manager, vo, VirtualAppliance.objects.get(name=name))
    ApplianceVersion.objects.filter(appliance__name="alma").update(expires=timezone.now() - timedelta(minutes=1))
    with pytest.raises(Invalid, match="expired entries"):
        publishing.publish_list(manager, vo)
    assert not PublishedArtefact.objects.filter(vo=vo).exists()
    services.delete_appliance(author, VirtualAppliance.objects.get(name="alma"))
    artefact = publishing.publish_list(manager, vo)
    assert artefact.image_count == 1


def test_entry_states(author, vo, manager):
    published_version(author, "soon", days=10)
    published_version(author, "fine")
    for name in ("soon", "fine"):
        publishing.add_to_list(manager, vo, VirtualAppliance.objects.get(name=name))
    counts = publishing.summary(publishing.entry_rows(publishing.draft_of(manager, vo)))
    assert counts[EntryState.EXPIRING] == 1 and counts[EntryState.UP_TO_DATE] == 1


@pytest.mark.parametrize("who", ["other_manager", "member", "anonymous"])
def test_only_the_vos_managers_change_its_list(author, vo, manager, who):
    from django.contrib.auth.models import AnonymousUser

    published_version(author, "ubuntu")
    other = VirtualOrganisation.objects.create(name="other.egi.eu")
    actor = {
        "other_manager": lambda: member(other, "othermanager", manager=True),
        "member": lambda: member(vo, "plainmember"),
        "anonymous": AnonymousUser,
    }[who]()
    ubuntu = VirtualAppliance.objects.get(name="ubuntu")
    for call in (
        lambda: publishing.add_to_list(actor, vo, ubuntu),
        lambda: publishing.publish_list(actor, vo),
        lambda: publishing.revert_draft(actor, vo),
        lambda: publishing.update_outdated(actor, vo),
    ):
        with pytest.raises(Exception) as caught:
            call()
        assert caught.value.error_code == "forbidden"
    assert not VOImageList.objects.filter(vo=vo).exists()


def test_only_released_unexpired_versions_enter_a_list(author, vo, manager):
    appliance = services.save_appliance(author, VirtualAppliance(name="draftonly", title="Draft only"))
    services.save_version(author, ApplianceVersion(appliance=appliance, version="0.1"))
    with pytest.raises(Conflict, match="no published version"):
        publishing.add_to_list(manager, vo, appliance)


def test_revert_gives_back_the_published_list(author, vo, manager):
    published_version(author, "ubuntu")
    published_version(author, "alma")
    publishing.add_to_list(manager, vo, VirtualAppliance.objects.get(name="ubuntu"))
    publishing.publish_list(manager, vo)
    publishing.add_to_list(manager, vo, VirtualAppliance.objects.get(name="alma"))
    draft = publishing.revert_draft(manager, vo)
    names = {e.image.version.appliance.name for e in draft.entries.all()}
    assert names == {"ubuntu"}


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_publishes_give_two_versions_or_one_refusal(author, vo, manager):
    require_or_skip(connection.vendor == "postgresql", "row locks need PostgreSQL (DATABASE_URL=postgres://...)")
    published_version(author, "ubuntu")
    publishing.add_to_list(manager, vo, VirtualAppliance.objects.get(name="ubuntu"))
    outcomes, barrier = [], threading.Barrier(2)

    def publish():
        barrier.wait()
        try:
            outcomes.append(publishing.publish_list(manager, vo).version)
        except Conflict as exc:
            outcomes.append(exc.messages[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    versions = [o for o in outcomes if o.isdigit()]
    assert len(versions) == 1 and any("Nothing to publish" in o for o in outcomes)
    artefacts = PublishedArtefact.objects.filter(vo=vo)
    assert artefacts.count() == 1 and VOImageList.objects.filter(vo=vo, state=ListState.PUBLISHED).count() == 1


def basic(token):
    return "Basic " + base64.b64encode(f"{token}:x-oauth-basic".encode()).decode()


def test_a_private_list_needs_a_subscriber_token_or_membership(author, vo, manager, client):
    published_version(author, "ubuntu")
    publishing.add_to_list(manager, vo, VirtualAppliance.objects.get(name="ubuntu"))
    publishing.set_private(manager, vo, True)
    publishing.publish_list(manager, vo)
    url = "/store/vo/demo.egi.eu/image.list"
    refused = client.get(url)
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Basic")
    with pytest.raises(Exception) as caught:
        services.add_subscriber(member(vo, "notmanager"), vo, "SURF-CLOUD")
    assert caught.value.error_code == "forbidden"
    subscriber, secret = services.add_subscriber(manager, vo, "SURF-CLOUD")
    assert secret.startswith("egil_") and secret not in str(subscriber.audit_state())
    with pytest.raises(Conflict):
        services.add_subscriber(manager, vo, "SURF-CLOUD")
    with pytest.raises(ValidationError):
        services.add_subscriber(manager, vo, "bad\x00<name>")
    assert client.get(url, HTTP_AUTHORIZATION=basic(secret)).status_code == 200
    assert client.get(url, HTTP_AUTHORIZATION=basic(secret + "x")).status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION="Basic !!!notbase64").status_code == 401
    services.revoke_subscriber(manager, subscriber)
    assert client.get(url, HTTP_AUTHORIZATION=basic(secret)).status_code == 401
    client.force_login(member(vo, "plainmember"))
    assert ListSubscriber.objects.get().last_used is not None
    assert client.get(url).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/store/vo/demo.egi.eu%00x/image.list",
        "/store/vo/" + "a" * 5000 + "/image.list",
        "/store/vo/nosuch.vo/image.list",
        "/store/vo/demo.egi.eu/image.list?version=abc",
        "/store/vo/demo.egi.eu/image.list?version=1%00",
        "/store/vappliance/NO%00/image.list",
        "/store/vappliance/nosuch/image.list",
    ],
)
def test_store_answers_404_to_what_cannot_exist(vo, client, url):
    assert client.get(url).status_code == 404


def test_earlier_artefacts_stay_available_and_conditional_get(author, vo, manager, client):
    published_version(author, "ubuntu")
    published_version(author, "alma")
    publishing.add_to_list(manager, vo, VirtualAppliance.objects.get(name="ubuntu"))
    first = publishing.publish_list(manager, vo)
    publishing.add_to_list(manager, vo, VirtualAppliance.objects.get(name="alma"))
    second = publishing.publish_list(manager, vo)
    url = "/store/vo/demo.egi.eu/image.list"
    assert client.get(url).content == bytes(second.signed)
    assert client.get(url, {"version": first.version}).content == bytes(first.signed)
    assert client.get(url, HTTP_IF_NONE_MATCH=f'"{second.sha256}"').status_code == 304
    with pytest.raises(ValueError):
        first.save()


def test_an_appliance_list_is_published_with_its_version(author, client):
    published_version(author, "ubuntu", images=2)
    reply = client.get("/store/vappliance/ubuntu/image.list")
    assert reply.status_code == 200
    signer = publishing.signer()
    data = consumers.parse_signed(reply.content)
    assert consumers.problems(data, signer_dn=signer.dn, signer_ca=signer.ca_dn) == []
    assert len(json.loads(data)["hv:imagelist"]["hv:images"]) == 2
    chain = client.get("/store/signer-chain.pem")
    assert chain.status_code == 200 and chain.content.count(b"BEGIN CERTIFICATE") >= 2


def test_a_version_string_is_never_reused_and_expiry_is_clamped(author):
    published_version(author, "ubuntu", "1.0")
    appliance = VirtualAppliance.objects.get(name="ubuntu")
    with pytest.raises(Conflict, match="used already"):
        services.save_version(author, ApplianceVersion(appliance=appliance, version="1.0"))
    version, note = services.save_version(
        author, ApplianceVersion(appliance=appliance, version="2.0", expires=timezone.now() + timedelta(days=3650))
    )
    assert "at most one year" in note and version.expires <= timezone.now() + timedelta(days=366)
    assert version.state == VersionState.WORKING and version.images.count() == 1
    other = UserFactory(username="stranger")
    with pytest.raises(Exception) as caught:
        services.save_version(other, ApplianceVersion(appliance=appliance, version="3.0"))
    assert caught.value.error_code == "forbidden"


@pytest.mark.parametrize(
    "url", ["ftp://images.example.org/a.qcow2", "https://user:pw@images.example.org/a.qcow2", "https://:8080/a"]
)
def test_an_image_url_the_check_would_refuse_is_refused_when_saved(author, url):
    appliance = services.save_appliance(author, VirtualAppliance(name="urls", title="URLs"))
    version, _note = services.save_version(author, ApplianceVersion(appliance=appliance, version="1.0"))
    image = Image(version=version, url=url, format="qcow2", os_name="Ubuntu", os_version="24.04")
    with pytest.raises(ValidationError) as caught:
        services.save_image(author, image)
    assert "url" in caught.value.message_dict and not Image.objects.exists()

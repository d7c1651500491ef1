"""The marketplace demo of `make demo`: its lists, served over HTTP by a running portal, verify with the
openssl command line against the demo CA and pass every consumer's rules; its image files are served by
the portal itself, so "Verify" works with no network; loading it twice changes nothing."""

import hashlib
import json
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from appliances import consumers, publishing, services
from appliances.choices import EntryState, IntegrityStatus, JobState, ListState, VersionState
from appliances.models import ApplianceVersion, PublishedArtefact, VirtualAppliance, VOImageList
from appliances.tests.hepix_support import openssl


def load():
    call_command("load_demo", stdout=StringIO())
    out = StringIO()
    call_command("load_demo_marketplace", stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_demo_lists_verify_and_parse_as_every_consumer_requires(live_server, settings, tmp_path, reference_data):
    settings.PORTAL_URL = live_server.url
    printed = load()
    signer = publishing.signer()
    assert f"{live_server.url}/store/vo/fedcloud.egi.eu/image.list" in printed and signer.dn in printed
    assert VirtualAppliance.objects.count() >= 12
    pki_bundle = Path(settings.IMAGE_LIST_DEMO_PKI_DIR) / "ca-bundle.pem"
    for vo in ("fedcloud.egi.eu", "vo.access.egi.eu"):
        with urllib.request.urlopen(f"{live_server.url}/store/vo/{vo}/image.list") as reply:
            path = tmp_path / f"{vo}.list"
            path.write_bytes(reply.read())
        verified = openssl("smime", "-verify", "-in", str(path), "-CAfile", str(pki_bundle), "-purpose", "smimesign")
        assert verified.returncode == 0, verified.stderr.decode()
        assert consumers.problems(verified.stdout, signer_dn=signer.dn, signer_ca=signer.ca_dn) == []
        images = json.loads(verified.stdout)["hv:imagelist"]["hv:images"]
        assert len(images) >= 4
        # Each image file is served by the portal and matches its listed checksum and size.
        first = images[0]["hv:image"]
        with urllib.request.urlopen(first["hv:uri"]) as reply:
            body = reply.read()
        assert hashlib.sha512(body).hexdigest() == first["sl:checksum:sha512"] and str(len(body)) == first["hv:size"]
    counts = publishing.summary(
        publishing.entry_rows(VOImageList.objects.get(vo__name="fedcloud.egi.eu", state=ListState.PUBLISHED))
    )
    assert counts[EntryState.OUTDATED] >= 2 and counts[EntryState.EXPIRING] >= 1

    artefacts = PublishedArtefact.objects.count()
    load()  # idempotent
    assert PublishedArtefact.objects.count() == artefacts


@pytest.mark.django_db(transaction=True)
def test_verify_works_on_the_demo_with_no_network(live_server, settings, eager_tasks, reference_data):
    settings.PORTAL_URL = live_server.url
    load()
    working = ApplianceVersion.objects.get(state=VersionState.WORKING, appliance__name="egi.kubernetes")
    # The demo URLs were written with the live server's address: the portal serves the file itself.
    job = services.request_integrity_check(working.appliance.owner, working)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    working.refresh_from_db()
    assert working.status == IntegrityStatus.VERIFIED

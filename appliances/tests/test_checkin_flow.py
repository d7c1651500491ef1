"""The issue's "done when": a VO manager logs in with EGI Check-in (the local OpenID provider of the tests),
builds the VO's list in the browser, publishes it, and the list the portal serves over HTTP verifies with
openssl against the demo CA and passes every consumer's rules."""

import json
import urllib.request
from pathlib import Path

import pytest

from appliances import consumers, publishing
from appliances.models import PublishedArtefact
from egiportal.models import VOMembership
from egiportal.tests.test_browser import page  # noqa: F401 (the Playwright page fixture on the live server)
from egiportal.tests.test_oidc_browser import sign_in_at_provider

from .factories import published_appliance
from .hepix_support import openssl


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_checkin_vo_manager_builds_and_publishes_a_list_that_sites_accept(
    page,  # noqa: F811
    checkin,
    live_server,
    settings,
    tmp_path,
):
    settings.PORTAL_URL = live_server.url
    appliance = published_appliance(name="ubuntu-noble", title="Ubuntu Noble", images=2)

    page.goto("/login/?next=/vos/vo.example.org/image-list/")
    page.click("#checkin-login")
    sign_in_at_provider(page, checkin.issuer, "alice", "alice-pw")
    page.wait_for_url("**/vos/vo.example.org/image-list/")
    # Alice manages vo.example.org through her Check-in entitlements, not a local override.
    assert (
        VOMembership.objects.get(user__first_name="Alice", vo__name="vo.example.org", manager=True).source == "checkin"
    )
    page.select_option("#id_appliance", value=appliance.name)
    page.click("button:has-text('Add to the draft')")
    page.wait_for_selector("text=The draft holds 2 images of ubuntu-noble")
    page.click("#draft-actions button:has-text('Publish')")
    page.wait_for_selector("#subscribe")
    subscribe_url = page.inner_text("#subscribe-url")
    assert subscribe_url == f"{live_server.url}/store/vo/vo.example.org/image.list"
    assert PublishedArtefact.objects.filter(vo__name="vo.example.org").count() == 1

    with urllib.request.urlopen(subscribe_url) as reply:
        (tmp_path / "image.list").write_bytes(reply.read())
    bundle = Path(settings.IMAGE_LIST_DEMO_PKI_DIR) / "ca-bundle.pem"
    verified = openssl("smime", "-verify", "-in", str(tmp_path / "image.list"), "-CAfile", str(bundle))
    assert verified.returncode == 0, verified.stderr.decode()
    signer = publishing.signer()
    assert page.inner_text("#signer-dn") == signer.dn
    assert consumers.problems(verified.stdout, signer_dn=signer.dn, signer_ca=signer.ca_dn) == []
    document = json.loads(verified.stdout)["hv:imagelist"]
    assert document["ad:vo"] == "vo.example.org" and len(document["hv:images"]) == 2

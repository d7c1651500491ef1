"""A site administrator's day in a real browser: Playwright driving Debian's Chromium."""

import os
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from egiportal.tests.factories import UserFactory
from endpoints.tests.factories import service_type
from sites.tests.factories import SiteFactory, grant

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def page(live_server):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but Chromium is missing at {CHROMIUM}")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test are still
    # sequential, so Django's async-safety guard may be relaxed here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(15000)
        yield context.new_page()
        browser.close()
        # The test's ORM calls ran while Playwright's loop was active, in a connection of that context:
        # close it here, or the test database cannot be dropped at the end of the run.
        connections.close_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def log_in(page, username, password="pw"):
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_site_admin_day(page):
    service_type("org.openstack.nova")
    site = SiteFactory(short_name="NL-AMS-CLOUD", official_name="Amsterdam Cloud")
    admin = UserFactory(username="alice")
    grant(admin, "SITE_ADMIN", site)

    log_in(page, "alice")

    # Edit the site.
    page.goto(f"/sites/{site.pk}/")
    page.click("text=Edit")
    page.fill("#id_official_name", "Amsterdam Science Cloud")
    page.click("button:has-text('Save')")
    page.wait_for_url(f"**/sites/{site.pk}/")
    assert "Amsterdam Science Cloud" in page.content()
    site.refresh_from_db()
    assert site.official_name == "Amsterdam Science Cloud"

    # Add a service to the site; the site's scopes are preselected.
    page.click("text=Add service")
    page.select_option("#id_service_type", label="org.openstack.nova")
    page.fill("#id_hostname", "nova.ams.example.org")
    page.fill("#id_description", "OpenStack compute")
    page.click("button:has-text('Save')")
    page.wait_for_selector("h1:has-text('nova.ams.example.org')")
    service = site.services.get(hostname="nova.ams.example.org")
    assert [s.name for s in service.scopes.all()] == ["EGI"]

    # Give it an endpoint location.
    page.click("text=Add endpoint")
    page.fill("#id_name", "nova-api")
    page.fill("#id_url", "https://nova.ams.example.org:8774/v2.1")
    page.click("button:has-text('Save')")
    page.wait_for_load_state()
    assert service.endpoints.get().url == "https://nova.ams.example.org:8774/v2.1"

    # And a property.
    page.goto(service.get_absolute_url())
    page.click("text=Add / update")
    page.fill("#id_properties", "cloud-type=openstack")
    page.click("button:has-text('Save')")
    page.wait_for_url(f"**{service.get_absolute_url()}")
    assert "cloud-type" in page.content()
    assert service.properties.get().value == "openstack"

    # Declare a downtime of that service next week and find it on the downtime list.
    page.goto(site.get_absolute_url())
    page.click("text=Declare downtime")
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=7)
    page.select_option("#id_severity", "OUTAGE")
    page.fill("#id_description", "Upgrade of the compute nodes")
    page.fill("#id_start", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_end", (start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"))
    page.check(f"#service-{service.pk}")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=SCHEDULED")
    downtime = site.downtimes.get()
    assert downtime.classification == "SCHEDULED" and list(downtime.services.all()) == [service]

    page.goto("/downtimes/")
    row = page.locator("table tbody tr", has_text="NL-AMS-CLOUD")
    assert row.count() == 1
    assert "Outage" in row.inner_text() or "OUTAGE" in row.inner_text()

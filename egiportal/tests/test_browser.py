"""A site administrator's day in a real browser: Playwright driving Debian's Chromium."""

import os
import shutil

import pytest

from egiportal.testing import SiteFactory, UserFactory, grant

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

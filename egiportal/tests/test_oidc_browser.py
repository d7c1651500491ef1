"""EGI Check-in login in a real browser: Playwright driving Debian's Chromium, the portal's live server
and the real local OpenID provider (tests/oidc_op)."""

import time

import pytest

from .test_browser import page  # noqa: F401 (the Playwright page fixture on the live server)

GOCDB = "urn:mace:egi.eu:res:gocdb#aai.egi.eu"


def sign_in_at_provider(page, issuer, login, password):  # noqa: F811
    page.wait_for_url(f"{issuer}/interaction/**")
    page.fill("#username", login)
    page.fill("#password", password)
    page.click("#submit")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_checkin_login_refresh_and_logout(page, checkin, settings):  # noqa: F811
    settings.OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = 2
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto("/login/?next=/profile/")
    page.click("#checkin-login")
    sign_in_at_provider(page, checkin.issuer, "alice", "wrong")
    assert "Invalid username or password" in page.text_content("#error")
    sign_in_at_provider(page, checkin.issuer, "alice", "alice-pw")
    page.wait_for_url("**/profile/")
    profile = page.text_content("main")
    assert "vo.example.org" in profile and "VO manager" in profile and "Alice" in profile

    # The ID token's time is up: the next page goes through the provider silently (prompt=none).
    time.sleep(2.5)
    requested.clear()
    page.goto("/profile/")
    page.wait_for_url("**/profile/")
    assert any(url.startswith(checkin.issuer) and "prompt=none" in url for url in requested), requested
    assert "vo.example.org" in page.text_content("main")

    # Logout ends the portal session and, after the provider's confirmation, the provider's.
    page.click("nav button:has-text('Log out')")
    page.wait_for_url(f"{checkin.issuer}/session/end**")
    page.click("#logout-confirm")
    page.wait_for_url(lambda url: not url.startswith(checkin.issuer))
    assert page.is_visible("nav >> text=Log in")
    page.goto("/oidc/authenticate/?next=/profile/")
    page.wait_for_selector("#username")  # the provider asks again: its session is gone too


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_login_refused_without_the_required_entitlement(page, checkin, settings):  # noqa: F811
    settings.OIDC_REQUIRED_ENTITLEMENT = GOCDB
    page.goto("/login/")
    page.click("#checkin-login")
    sign_in_at_provider(page, checkin.issuer, "carol", "carol-pw")
    page.wait_for_selector("#login-refused")
    assert GOCDB in page.text_content("#login-refused")
    assert page.is_visible("nav >> text=Log in")

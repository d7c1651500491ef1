"""Password logins are throttled: after LOGIN_FAILURES_PER_ACCOUNT failures for an account, or
LOGIN_FAILURES_PER_ADDRESS from an address, in LOGIN_FAILURE_WINDOW_SECONDS, that account or address is
refused with a clear message, before the password is checked (so the right one is refused too), until
the window ends. Successes do not count; Check-in logins are not throttled."""

import re
import time

import pytest
from django.core.cache import cache
from django.test import Client

from conftest import require_or_skip
from egiportal.tests.factories import UserFactory
from egiportal.tests.test_oidc_login import log_in

LOCKED_ACCOUNT = "Too many failed logins for this account; try again in"
LOCKED_ADDRESS = "Too many failed logins from your address; try again in"


def wait_of(message, page):
    """The minutes the page asks to wait (the fixed window's end), after `message`."""
    found = re.search(re.escape(message) + r" (\d+) minutes?\.", page)
    assert found, page
    return int(found.group(1))


@pytest.fixture(autouse=True)
def private_cache(settings):
    """A cache of this test alone: the counters never leak between tests."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "logins"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin(db):
    return UserFactory(username="admin", password="right-pw")


def attempt(username, password, address="192.0.2.10", **headers):
    """A password login from `address`: (logged in, the page's text)."""
    client = Client(REMOTE_ADDR=address, **headers)
    response = client.post("/login/", {"username": username, "password": password})
    return response.status_code == 302, response.content.decode()


@pytest.mark.django_db
def test_five_failures_lock_the_account_even_for_the_right_password(admin):
    for _ in range(5):
        logged_in, page = attempt("admin", "wrong")
        assert not logged_in and "Your user name and password did not match." in page
    logged_in, page = attempt("admin", "right-pw")
    assert not logged_in and 1 <= wait_of(LOCKED_ACCOUNT, page) <= 15
    # From any address: the budget is the account's.
    assert 1 <= wait_of(LOCKED_ACCOUNT, attempt("admin", "right-pw", address="198.51.100.1")[1]) <= 15
    assert attempt("other", "wrong")[1].count("did not match") == 1  # other accounts are not locked


@pytest.mark.django_db
def test_the_admin_login_shares_the_budgets(admin):
    admin.is_staff = True
    admin.save()
    for _ in range(3):
        assert not attempt("admin", "wrong")[0]
    for _ in range(2):
        response = Client().post("/admin/login/", {"username": "admin", "password": "wrong"})
        assert response.status_code == 200
    response = Client().post("/admin/login/", {"username": "admin", "password": "right-pw"})
    assert response.status_code == 200 and LOCKED_ACCOUNT in response.content.decode()
    assert LOCKED_ACCOUNT in attempt("admin", "right-pw")[1]


@pytest.mark.django_db
def test_fewer_failures_and_successes_do_not_lock(admin):
    for _ in range(4):
        assert not attempt("admin", "wrong")[0]
    for _ in range(3):  # successes are not failures
        assert attempt("admin", "right-pw")[0]
    assert not attempt("admin", "wrong")[0]
    assert LOCKED_ACCOUNT in attempt("admin", "right-pw")[1]


@pytest.mark.django_db
def test_twenty_failures_lock_the_address_for_every_account(admin, settings):
    for number in range(20):
        assert not attempt(f"guess{number}", "wrong")[0]
    logged_in, page = attempt("admin", "right-pw")
    assert not logged_in and 1 <= wait_of(LOCKED_ADDRESS, page) <= 15
    assert attempt("admin", "right-pw", address="192.0.2.11")[0]  # other addresses are not locked
    # A success elsewhere, even from a user of that address, does not clear the address's failures.
    assert not attempt("admin", "right-pw")[0]


@pytest.mark.django_db
def test_a_forwarded_for_header_from_the_client_does_not_change_its_address(admin):
    for number in range(20):
        attempt(f"guess{number}", "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{number}")
    assert LOCKED_ADDRESS in attempt("admin", "right-pw", HTTP_X_FORWARDED_FOR="203.0.113.99")[1]


@pytest.mark.django_db
def test_without_redis_logins_still_work_unthrottled(admin, settings, monkeypatch):
    from egiportal import caching

    monkeypatch.setattr(caching, "outage", caching._Outage())
    settings.CACHES = {
        "default": {"BACKEND": "egiportal.caching.FailOpenRedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    for _ in range(6):
        assert "did not match" in attempt("admin", "wrong")[1]
    assert attempt("admin", "right-pw")[0]


@pytest.mark.django_db
def test_a_refused_attempt_counts_for_nothing(admin):
    """Refused attempts are not failures: a locked address cannot go on to lock accounts."""
    for number in range(20):
        attempt(f"guess{number}", "wrong")
    for _ in range(10):
        assert LOCKED_ADDRESS in attempt("admin", "wrong")[1]
    assert attempt("admin", "right-pw", address="192.0.2.11")[0]


@pytest.mark.django_db
def test_the_lock_ends_with_its_window(admin, settings):
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 2
    for _ in range(5):
        attempt("admin", "wrong")
    logged_in, page = attempt("admin", "right-pw")
    assert not logged_in and f"{LOCKED_ACCOUNT} 1 minute." in page  # a 2 s window
    time.sleep(2 - time.time() % 2 + 0.05)  # into the next window
    assert attempt("admin", "right-pw")[0]


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_get_no_more_than_the_limit_checked(admin):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, connections

    require_or_skip(connection.vendor == "postgresql", "needs PostgreSQL (DATABASE_URL): SQLite locks parallel logins")

    def guess(_):
        try:
            return attempt("admin", "wrong")[1]
        finally:
            connections.close_all()  # this thread's

    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = list(pool.map(guess, range(16)))
    assert sum("did not match" in page for page in pages) == 5
    assert sum(LOCKED_ACCOUNT in page for page in pages) == 11


@pytest.mark.django_db(transaction=True)
def test_check_in_login_is_not_throttled(live_server, checkin):
    for number in range(20):  # the live server's clients come from 127.0.0.1 too
        attempt(f"guess{number}", "wrong", address="127.0.0.1")
    assert LOCKED_ADDRESS in attempt("admin", "wrong", address="127.0.0.1")[1]
    response = log_in(live_server, "alice")
    assert response.status_code == 200 and response.url.endswith("/profile/")

"""Concurrent writers on PostgreSQL (SQLite has no row locks): If-Match on rows of inherited tables,
bulk writes of the same rows in opposite orders, and two creates of one property key."""

import threading
from contextlib import contextmanager

import pytest
from django.db import connection, connections
from django.test import Client

from conftest import require_or_skip
from egiportal.api.testcases import api
from egiportal.tests.factories import UserFactory
from sites.choices import RoleType
from sites.models import NGI, Project, Site, SiteProperty
from sites.tests.factories import SiteFactory, user_with

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql():
    require_or_skip(connection.vendor == "postgresql", "row-lock tests need PostgreSQL (DATABASE_URL=postgres://...)")


def in_thread(work):
    """Run `work()` on its own database connection; returns (thread, result list)."""
    result = []

    def run():
        try:
            result.append(work())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


@contextmanager
def holding(*statements):
    """Run `statements` ((sql, params) each) in a transaction of a second connection and keep it open,
    holding their row locks, until the block ends; then commit."""
    other = connection.copy()
    other.connect()
    other.connection.autocommit = False
    try:
        with other.connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
        yield
        other.connection.commit()
    finally:
        other.close()


def test_every_inherited_table_is_locked():
    from egiportal.services import lock_of

    for model in (Site, NGI, Project):
        assert lock_of(model) == ("self", "ownedentity_ptr")


def test_if_match_is_checked_against_the_parent_table_of_a_concurrent_edit():
    """A writer that has changed the site's `last_updated` (in sites_ownedentity) but not committed yet
    makes a PATCH with the ETag from before wait, and then refuse it: the lost update of the report."""
    site = SiteFactory()
    admin = user_with(RoleType.SITE_ADMIN, site)
    client = Client()
    path = f"/api/v1/sites/{site.pk}/"
    etag = api(client, "GET", path, user=admin)["ETag"]

    first_writer = (  # a concurrent edit in flight: it has written both tables and holds their rows
        ("UPDATE sites_ownedentity SET last_updated = now() WHERE id = %s", [site.pk]),
        ("UPDATE sites_site SET description = 'first writer' WHERE ownedentity_ptr_id = %s", [site.pk]),
    )
    with holding(*first_writer):
        thread, result = in_thread(
            lambda: api(client, "PATCH", path, {"description": "second writer"}, headers={"If-Match": etag})
        )
        thread.join(1)
        assert thread.is_alive(), "the PATCH must wait for the first writer's row locks"
    thread.join(30)
    assert result[0].status_code == 412, result[0].content
    site.refresh_from_db()
    assert site.description == "first writer"


def test_bulk_patches_in_opposite_orders_do_not_deadlock():
    """Two bulk PATCHes of the same rows, one listing them forwards and one backwards, run one after
    the other: both succeed (locking in request order deadlocked and one side got a 500)."""
    sites = SiteFactory.create_batch(2)
    admin = UserFactory(is_superuser=True)
    first, second = Client(), Client()
    first.force_login(admin)
    second.force_login(admin)
    forwards = [{"id": site.pk, "description": "forwards"} for site in sites]
    # Hold both rows, so that both PATCHes queue up behind the lock and then run at once.
    with holding(("SELECT 1 FROM sites_site WHERE ownedentity_ptr_id = ANY(%s) FOR UPDATE", [[s.pk for s in sites]])):
        threads = [
            in_thread(lambda body=body, client=client: api(client, "PATCH", "/api/v1/sites/", body))
            for body, client in ((forwards, first), (forwards[::-1], second))
        ]
        for thread, _ in threads:
            thread.join(1)
    for thread, result in threads:
        thread.join(30)
        assert result[0].status_code == 200, result[0].content


def test_two_creates_of_one_property_key_give_one_201_and_one_409():
    site = SiteFactory()
    admin = user_with(RoleType.SITE_ADMIN, site)
    body = {"parent": site.pk, "key": "same.key", "value": "v"}
    clients = [Client(), Client()]
    for client in clients:
        client.force_login(admin)
    path = "/api/v1/site-properties/"
    # Hold the site's rows, so that both creates wait behind the lock and then race.
    with holding(("SELECT 1 FROM sites_site WHERE ownedentity_ptr_id = %s FOR UPDATE", [site.pk])):
        threads = [in_thread(lambda client=client: api(client, "POST", path, body)) for client in clients]
        for thread, _ in threads:
            thread.join(1)
    codes = []
    for thread, result in threads:
        thread.join(30)
        codes.append(result[0].status_code)
    assert sorted(codes) == [201, 409]
    assert SiteProperty.objects.filter(parent=site, key="same.key").count() == 1

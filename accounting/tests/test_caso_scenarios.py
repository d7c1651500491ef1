"""Ingestion end to end with messages made by the real cASO library (accounting.testing), through the
service every entry point uses: a VM across a year's end, a suspended one, one that never started,
repeated cumulative snapshots, a late replay and a re-extraction of an older period. The summaries equal
the spec's computation (monthly usage = this snapshot minus the previous one), and every order of
delivery gives the same stored state."""

import itertools
from datetime import UTC, datetime

import pytest

from accounting import services, testing
from accounting.models import CloudRecord, CloudSummary
from sites.tests.factories import SiteFactory

pytestmark = pytest.mark.django_db

DAY = 86400
YEAR_VM = "11111111-2222-4333-8444-555555555555"
SUSPENDED_VM = "22222222-3333-4444-8555-666666666666"
NEVER_VM = "33333333-4444-4555-8666-777777777777"


def t(*args):
    return datetime(*args, tzinfo=UTC)


def runs():
    """cASO runs as (name, message body). The year VM runs from 20 December 2024 to 10 January 2025 (2 vCPUs)."""
    start = t(2024, 12, 20)
    year_vm = {"uuid": YEAR_VM, "cpu_count": 2, "start_time": start}
    return {
        # 25 December: running for 5 days
        "dec-25": testing.cloud_message([dict(year_vm, extract_to=t(2024, 12, 25))]),
        # 31 December 23:00: running, 11 days 23 h; a suspended VM too (cASO sends its status)
        "dec-31": testing.cloud_message(
            [
                dict(year_vm, extract_to=t(2024, 12, 31, 23)),
                {
                    "uuid": SUSPENDED_VM,
                    "status": "suspended",
                    "cpu_count": 1,
                    "start_time": t(2024, 12, 1),
                    "extract_to": t(2024, 12, 31, 23),
                },
            ]
        ),  # fmt: skip
        # 15 January: the year VM ended on 10 January; a VM that never started (no start, no wall)
        "jan-15": testing.cloud_message(
            [
                dict(year_vm, status="completed", end_time=t(2025, 1, 10), extract_to=None),
                {
                    "uuid": NEVER_VM,
                    "status": "error",
                    "start_time": t(2025, 1, 14),
                    "end_time": t(2025, 1, 14),
                    "wall_duration": 0,
                    "cpu_duration": 0,
                    "extract_to": None,
                },
            ]
        ),  # fmt: skip
        # Re-extraction of December alone, later (caso-extract --extract-from 1 Dec --extract-to 31 Dec):
        # the same snapshot as the 31 December run, sent again after January's.
        "dec-again": testing.cloud_message([dict(year_vm, extract_to=t(2024, 12, 31, 23))]),
    }


def ingest(site, bodies):
    sender = services.Sender(site, description="test")
    for body in bodies:
        services.ingest(sender, body)
    services.summarise([site.pk])


def state():
    records = sorted(
        CloudRecord.objects.values_list("vm_uuid", "measurement_year", "measurement_month", "wall_duration", "status")
    )
    summaries = sorted(
        CloudSummary.objects.values_list("year", "month", "status", "wall_duration", "cpu_duration", "number_of_vms")
    )
    return records, summaries


def test_the_year_boundary_suspension_and_a_vm_that_never_ran():
    site = SiteFactory(short_name=testing.SITE)
    bodies = runs()
    ingest(site, [bodies["dec-25"], bodies["dec-31"], bodies["jan-15"]])
    december_wall = (t(2024, 12, 31, 23) - t(2024, 12, 20)).total_seconds()
    january_wall = (t(2025, 1, 10) - t(2024, 12, 20)).total_seconds() - december_wall
    year = {(y, m): (w, c) for y, m, s, w, c, n in state()[1] if s in ("started", "completed") and n == 1 and c}
    assert year[(2024, 12)] == (december_wall, 2 * december_wall)
    assert year[(2025, 1)] == (january_wall, 2 * january_wall)
    summaries = CloudSummary.objects.filter(status="suspended").get()
    assert (summaries.year, summaries.month) == (2024, 12)
    assert summaries.wall_duration == (t(2024, 12, 31, 23) - t(2024, 12, 1)).total_seconds()
    never = CloudRecord.objects.get(vm_uuid=NEVER_VM)
    assert (never.wall_duration, never.cpu_duration, never.status) == (1, 1, "error")  # cASO raises a 0 to 1
    assert CloudSummary.objects.get(status="error").number_of_vms == 1
    assert CloudRecord.objects.filter(vm_uuid=YEAR_VM).count() == 2  # one row per VM and month


@pytest.mark.parametrize("order", list(itertools.permutations(["dec-25", "dec-31", "jan-15", "dec-again"])))
def test_any_order_replays_and_re_extractions_give_the_same_state(order):
    """APEL lets the later re-extraction or an early snapshot arriving last replace December (and so inflate
    January); with the portal's rule only a snapshot that is not older replaces one."""
    bodies = runs()
    reference_site = SiteFactory(short_name=testing.SITE)
    ingest(reference_site, [bodies["dec-25"], bodies["dec-31"], bodies["jan-15"]])
    reference = state()
    CloudRecord.objects.all().delete()
    CloudSummary.objects.all().delete()
    ingest(reference_site, [bodies[name] for name in order] + [bodies["dec-25"]])  # and a late replay
    assert state() == reference

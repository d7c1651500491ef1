"""The summariser against the spec's computations (accounting.md §2.3, §2.4): monthly usage is the
difference of cumulative snapshots; the improved replace rule keeps replays and reordering harmless."""

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounting import services
from accounting.models import CloudRecord, CloudSummary
from sites.tests.factories import SiteFactory

pytestmark = pytest.mark.django_db

VO = "vo.access.egi.eu"
USER = "8b2f0c3e1d7a4b5c9e6f@egi.eu"


def t(*args):
    return datetime(*args, tzinfo=UTC)


def record(vm, status, start, wall, cpus, *, end=None, measured=None, memory=8192):
    """A cloud record as accounting.messages gives it (measurement time per §2.2)."""
    measured = end if status == "completed" else measured
    return {
        "vm_uuid": vm, "site_name": "CESGA-CLOUD", "cloud_compute_service": "https://keystone.example.org:5000/v3",
        "global_user_name": USER, "fqan": VO, "vo": VO, "vo_group": None, "vo_role": None, "status": status,
        "start_time": start, "end_time": end, "wall_duration": wall, "cpu_duration": wall * cpus,
        "cpu_count": Decimal(cpus), "memory": memory, "disk": 80, "benchmark_type": "HEPscore23",
        "benchmark": Decimal("12.5"), "image_id": "img-1", "cloud_type": "caso/5.2.2 (OpenStack)",
        "measurement_time": measured, "measurement_year": measured.year, "measurement_month": measured.month,
    }  # fmt: skip


A_START, B_START = t(2024, 3, 1, 8), t(2024, 3, 10, 0)
RUNS = [
    # cASO run of 15 March: A running
    [record("vm-a", "started", A_START, 1180800, 4, measured=t(2024, 3, 15))],
    # 31 March 23:00: A still running, B ran 10-12 March
    [
        record("vm-a", "started", A_START, 2646000, 4, measured=t(2024, 3, 31, 23)),
        record("vm-b", "completed", B_START, 196200, 16, end=t(2024, 3, 12, 6, 30), memory=32768),
    ],
    # 15 April: A completed on 10 April
    [record("vm-a", "completed", A_START, 3427200, 4, end=t(2024, 4, 10, 8))],
]


def ingest(site, runs):
    for records in runs:
        services.store_cloud(site, None, [dict(r) for r in records])
    services.summarise([site.pk])


def table():
    rows = CloudSummary.objects.order_by("month", "status", "cpu_count")
    return [(r.month, r.status, r.wall_duration, r.cpu_duration, int(r.cpu_count), r.number_of_vms) for r in rows]


# §2.4: what APEL's SummariseVMs gave on these three runs.
EXPECTED = [
    (3, "completed", 196200, 3139200, 16, 1),
    (3, "started", 2646000, 10584000, 4, 1),
    (4, "completed", 781200, 3124800, 4, 1),
]


def test_the_spec_scenario_gives_apels_numbers():
    site = SiteFactory(short_name="CESGA-CLOUD")
    ingest(site, RUNS)
    assert table() == EXPECTED
    march = CloudSummary.objects.get(month=3, status="started")
    assert march.earliest_start_time == A_START and march.memory == 8192 and march.vo == VO
    assert march.benchmark == Decimal("12.5") and march.global_user_name == USER


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_replays_and_any_order_give_the_same_state(order):
    """APEL lets a late replay of the 15 March snapshot lower March and inflate April (§2.2); here it does not."""
    site = SiteFactory(short_name="CESGA-CLOUD")
    ingest(site, [RUNS[i] for i in order] + [RUNS[0], RUNS[1]])
    assert table() == EXPECTED
    assert CloudRecord.objects.count() == 3


def test_stale_summaries_go_when_records_change():
    site = SiteFactory(short_name="CESGA-CLOUD")
    ingest(site, RUNS)
    moved = [dict(r, vo="other.vo", fqan="other.vo", wall_duration=r["wall_duration"] + 1) for r in RUNS[2]]
    ingest(site, [moved])
    assert set(CloudSummary.objects.filter(month=4).values_list("vo", flat=True)) == {"other.vo"}


def test_summaries_of_one_site_leave_the_others():
    one, other = SiteFactory(short_name="CESGA-CLOUD"), SiteFactory(short_name="OTHER-CLOUD")
    ingest(one, RUNS)
    ingest(other, [[dict(RUNS[0][0], site_name="OTHER-CLOUD")]])
    services.summarise([other.pk])
    assert CloudSummary.objects.filter(site=one).count() == 3
    assert CloudSummary.objects.filter(site=other).count() == 1


def test_a_vm_that_never_started_is_stored_without_a_month_and_not_summarised():
    site = SiteFactory(short_name="CESGA-CLOUD")
    never = dict(RUNS[0][0], vm_uuid="vm-never", start_time=None, wall_duration=None, cpu_duration=None)
    never.update(measurement_time=None, measurement_year=None, measurement_month=None)
    services.store_cloud(site, None, [never])
    services.summarise([site.pk])
    assert CloudRecord.objects.get(vm_uuid="vm-never").measurement_month == 0
    assert not CloudSummary.objects.exists()

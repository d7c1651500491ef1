"""The pivot against hand computations on the spec's §2.4 scenario (ingested as cASO's messages): metrics,
dimensions, totals and percentages, the classic JSON and CSV, and who may see the per-user rows."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounting import reports, testing
from accounting.tests import scenario
from egiportal.errors import Forbidden, Invalid
from egiportal.tests.factories import UserFactory, vo_member
from sites.choices import RoleType
from sites.tests.factories import grant

pytestmark = pytest.mark.django_db
ALL = {"start": (2024, 1), "end": (2025, 12)}


@pytest.fixture
def world():
    return scenario.build()


def pivot(user=None, **query):
    query = {"rows": "vo", "columns": "month", **ALL, **query}
    return reports.pivot(user, **query)


# Hand computations: March = A (Wall 2646000 s, 4 vCPUs, running) + B (Wall 196200 s, 16 vCPUs, completed);
# April = A's delta 3427200 - 2646000 = 781200 s at 4 vCPUs; benchmark 12.5; memory 8192 + 32768 MB.
@pytest.mark.parametrize(
    "metric,march,april",
    [
        ("vm_num", Decimal(2), Decimal(1)),
        ("sum_elap", Decimal(2646000 + 196200) / 3600, Decimal(781200) / 3600),
        ("sum_elap_processors", Decimal(2646000 * 4 + 196200 * 16) / 3600, Decimal(781200 * 4) / 3600),
        ("normalised", Decimal(2646000 * 4 + 196200 * 16) * Decimal("12.5") / 3600, Decimal(781200 * 50) / 3600),
        ("processors", Decimal(4 + 16), Decimal(4)),
        ("mem-GByte", Decimal(8192 + 32768) / 1024, Decimal(8)),
        ("disk", Decimal(80 + 200), Decimal(80)),
    ],
)
def test_cloud_metrics_equal_hand_computations(world, metric, march, april):
    result = pivot(metric=metric, vos=[testing.VO])
    assert result.cell(testing.VO, "2024-03") == march
    assert result.cell(testing.VO, "2024-04") == april
    assert result.total == march + april
    assert result.row_keys == [testing.VO] and result.column_keys == ["2024-03", "2024-04"]


def test_ip_gpu_and_storage_metrics(world):
    assert pivot(metric="ips").cell(testing.VO, "2024-03") == 3
    assert pivot(metric="gpu_hours").cell(testing.VO, "2024-03") == Decimal(2 * 196200) / 3600
    assert pivot(metric="storage").cell(testing.VO, "2024-03") == 100  # 100 GiB volume


def test_totals_and_percentages(world):
    result = pivot(metric="sum_elap_processors", rows="site")
    assert result.row_totals == {testing.SITE: Decimal(4680), scenario.OTHER: Decimal(48)}
    assert result.column_totals == {"2024-03": Decimal(3812), "2024-04": Decimal(868), "2025-01": Decimal(48)}
    assert result.total == 4728
    assert result.percent(Decimal(48)) == Decimal(4800) / 4728


@pytest.mark.parametrize(
    "rows,keys",
    [
        ("ngi", ["NGI_DE", "NGI_IBERGRID"]),
        ("REGION", ["NGI_DE", "NGI_IBERGRID"]),
        ("country", ["DE", "NL"]),
        ("site", [testing.SITE, scenario.OTHER]),
        ("service", [testing.SERVICE]),
        ("image", [testing.IMAGE_ID, "img-belle"]),
        ("status", ["completed", "started"]),
        ("year", ["2024", "2025"]),
    ],
)
def test_dimensions(world, rows, keys):
    columns = "vo" if rows != "year" else "month"
    assert pivot(metric="vm_num", rows=rows, columns=columns).row_keys == keys


def test_status_is_part_of_the_key_so_a_vm_counts_in_each_month(world):
    result = pivot(metric="vm_num", rows="status", vos=[testing.VO])
    assert result.cell("started", "2024-03") == 1 and result.cell("completed", "2024-03") == 1
    assert result.cell("completed", "2024-04") == 1 and result.total == 3


def test_the_month_range_is_inclusive_and_filters_apply(world):
    assert pivot(metric="vm_num", start=(2024, 4), end=(2024, 4)).total == 1
    assert pivot(metric="vm_num", start=(2024, 3), end=(2024, 4)).total == 3
    assert pivot(metric="vm_num", sites=[scenario.OTHER]).row_keys == [scenario.BELLE]
    assert pivot(metric="vm_num", ngis=["NGI_IBERGRID"]).total == 3
    assert pivot(metric="vm_num", local="onlylocaljobs").total == 0


def test_one_aggregate_query(world):
    with CaptureQueriesContext(connection) as queries:
        pivot(metric="sum_elap_processors", rows="ngi", columns="year")
    assert len(queries) == 1 and "GROUP BY" in queries[0]["sql"]


def test_classic_json_shape(world):
    data = pivot(metric="sum_elap_processors", rows="site", columns="month", vos=[testing.VO]).as_classic_json()
    assert data == [
        {"id": testing.SITE, "2024-03": 3812, "2024-04": 868, "Total": 4680, "Percent": 100},
        {"id": "Total", "2024-03": 3812, "2024-04": 868, "Total": 4680, "Percent": 100},
        {"id": "Percent", "2024-03": 81.45, "2024-04": 18.55, "Total": 100},
        {"id": "xlegend", "0": "2024-03", "1": "2024-04"},
        {"id": "ylegend", "0": testing.SITE},
        {"id": "var", "xrange": "DATE", "yrange": "SITE", "query": "sum_elap_processors"},
    ]


def test_rounding_is_for_display_only(world):
    result = pivot(metric="sum_elap", vos=[testing.VO])
    assert result.total == Decimal("1006.5")  # exact
    assert result.as_classic_json()[0]["Total"] == 1007 and result.as_classic_json()[0]["2024-03"] == 789.5


def test_csv(world):
    text = pivot(metric="vm_num", rows="site").as_csv()
    assert text.splitlines() == [
        "SITE,2024-03,2024-04,2025-01,Total,Percent",
        f"{testing.SITE},2,1,0,3,75",
        f"{scenario.OTHER},0,0,1,1,25",
        "Total,2,1,1,4,100",
        "Percent,50,25,25,100,",
    ]


def test_csv_keeps_formulas_from_running(world):
    result = pivot(metric="vm_num")
    result.row_keys = ["=HYPERLINK(1)"]
    result.cells = {("=HYPERLINK(1)", "2024-03"): Decimal(1)}
    result.column_keys = ["2024-03"]
    assert "'=HYPERLINK(1)" in result.as_csv()


@pytest.mark.parametrize(
    "name,canonical",
    [
        ("number_of_virtual_machines", "vm_num"),
        ("sumelap", "sum_elap"),
        ("sum_elap-hour", "sum_elap"),
        ("sum_elap_processors-hour", "sum_elap_processors"),
        ("mem-GByte", "mem-GByte"),
        ("VM_NUM", "vm_num"),
    ],
)
def test_classic_metric_names(name, canonical):
    assert reports.metric_for(name).name == canonical


@pytest.mark.parametrize(
    "query",
    [
        {"metric": "cost"},
        {"metric": "nope"},
        {"metric": "x" * 10000},
        {"rows": "planet"},
        {"rows": "vo", "columns": "VO"},
        {"metric": "ips", "rows": "image"},
        {"metric": "storage", "rows": "user"},
        {"start": (2025, 1), "end": (2024, 1)},
        {"start": (2024, 13), "end": (2024, 1)},
        {"vos": ["bad vo"]},
        {"sites": ["x\x00y"]},
        {"vos": [f"vo{i}" for i in range(101)]},
        {"local": "everything"},
    ],
)
def test_bad_queries_are_invalid(world, query):
    with pytest.raises(Invalid):
        pivot(**{"metric": "vm_num", **query})


# --- per-user rows ----------------------------------------------------------------------------------------


def test_user_dimension_refused_to_anonymous(world):
    with pytest.raises(Forbidden):
        pivot(metric="vm_num", rows="user")


def test_user_dimension_refused_to_a_member_who_is_not_a_manager(world):
    member = UserFactory()
    vo_member(member, testing.VO)
    with pytest.raises(Forbidden):
        pivot(member, metric="vm_num", rows="user", vos=[testing.VO])


def test_user_dimension_refused_to_another_sites_admin(world):
    _cesga, other = world
    admin = UserFactory()
    grant(admin, RoleType.SITE_ADMIN, other)
    with pytest.raises(Forbidden):
        pivot(admin, metric="vm_num", rows="user", sites=[testing.SITE])
    # Over every site, they see their own site's users only.
    assert pivot(admin, metric="vm_num", rows="user").row_keys == [scenario.OTHER_USER]


def test_user_dimension_for_the_vo_manager(world):
    manager = UserFactory()
    vo_member(manager, testing.VO, manager=True)
    result = pivot(manager, metric="vm_num", rows="user")
    assert result.row_keys == [testing.USER_DN] and result.total == 3


def test_user_dimension_for_the_site_admin(world):
    cesga, _other = world
    admin = UserFactory()
    grant(admin, RoleType.SITE_ADMIN, cesga)
    assert pivot(admin, metric="sum_elap_processors", rows="user", sites=[testing.SITE]).total == 4680


def test_user_dimension_for_a_superuser(world):
    root = UserFactory(is_superuser=True)
    assert pivot(root, metric="vm_num", rows="user").row_keys == [testing.USER_DN, scenario.OTHER_USER]


def test_missing_months(world):
    cesga, _other = world
    assert reports.missing_months(cesga, end=(2024, 6)) == ["2024-05", "2024-06"]
    assert reports.missing_months(cesga, end=(2024, 4)) == []


def test_missing_months_from_known_months_need_no_query():
    with CaptureQueriesContext(connection) as queries:
        gaps = reports.missing_months(None, end=(2025, 2), months=[(2024, 11), (2025, 1)])
    assert gaps == ["2024-12", "2025-02"] and len(queries) == 0
    assert reports.missing_months(None, months=[]) == []


ROLLED_UP = [name for name, metric in reports.METRICS.items() if metric.rollup is not None]
PAIRS = [(r, c) for r in reports.COMMON for c in reports.COMMON if r != c and {r, c} != {"month", "year"}]


@pytest.mark.parametrize("metric", ROLLED_UP)
def test_the_rolled_up_rows_give_exactly_the_summaries_sums(world, metric):
    """Pivots by NGI, country, site, VO, month and year read CloudUsage; every one equals the same pivot
    over every summary row (forced by a no-op `extra` filter)."""
    from django.db.models import Q

    for rows, columns in PAIRS:
        asked = {"metric": metric, "rows": rows, "columns": columns, "start": (2024, 1), "end": (2025, 12)}
        rolled, fine = reports.pivot(None, **asked), reports.pivot(None, **asked, extra=Q())
        assert rolled.cells == fine.cells and rolled.cells, (metric, rows, columns)

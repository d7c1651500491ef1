"""The accounting page (form, table, chart, downloads of exactly what is shown), hostile form input, fixed
query counts, and the usage panels on site, NGI, VO and appliance pages."""

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounting import reports, services, testing
from accounting.tests import scenario
from appliances.tests.factories import published_appliance
from egiportal.tests import test_browser
from egiportal.tests.factories import UserFactory, vo_member
from sites.choices import RoleType
from sites.tests.factories import SiteFactory, grant

pytestmark = pytest.mark.django_db
page = test_browser.page  # the Playwright fixture `page`, with Debian's Chromium
QUERY = {"rows": "site", "columns": "month", "metric": "sum_elap_processors", "start": "2024-01", "end": "2025-12"}


@pytest.fixture
def world():
    return scenario.build()


def test_the_page_shows_the_table_with_totals_and_percentages(client, world):
    reply = client.get("/accounting/", QUERY)
    assert reply.status_code == 200
    body = reply.content.decode()
    for text in (testing.SITE, scenario.OTHER, "3\u202f812", "4\u202f728", "98.98", "80.63", "Total", "Percent"):
        assert text in body, text
    assert "<script>" not in body and "vendor/chart.umd.min.js" in body and "accounting.js" in body
    assert 'data-accounting-chart="/accounting/?' in body


def test_the_downloads_are_exactly_what_is_shown(client, world):
    shown = client.get("/accounting/", QUERY)
    expected = reports.pivot(None, **{**QUERY, "start": (2024, 1), "end": (2025, 12)})
    json_url = shown.context["json_url"].replace("&amp;", "&")
    csv_url = shown.context["csv_url"]
    assert client.get(json_url).json() == expected.as_classic_json()
    reply = client.get(csv_url)
    assert reply["Content-Type"].startswith("text/csv") and reply.content.decode() == expected.as_csv()
    assert [row[0] for row in shown.context["table"]] == expected.row_keys


def test_the_defaults_are_the_last_12_months(client, world):
    reply = client.get("/accounting/")
    assert reply.status_code == 200
    end = reports.this_month()
    assert reply.context["form"].cleaned_data["start"] == reports.shift_month(end, -11)


@pytest.mark.parametrize(
    "params",
    [
        {"rows": "planet"},
        {"metric": "cost"},
        {"rows": "vo", "columns": "vo"},
        {"start": "2024-13"},
        {"start": "24-01"},
        {"start": "２０２４-01"},
        {"start": "2025-01", "end": "2024-01"},
        {"start": "2024-01" * 1000},
        {"vos": "a b\x00c"},
        {"sites": "<script>alert(1)</script>"},
        {"vos": ",".join(f"vo{i}" for i in range(101))},
        {"vos": "x" * 5000},
        {"format": "xml"},
        {"metric": "ips", "rows": "image"},
    ],
)
def test_bad_form_input_is_a_form_error(client, world, params):
    reply = client.get("/accounting/", {**QUERY, **params})
    assert reply.status_code == 400
    assert b"<script>alert(1)</script>" not in reply.content
    assert b"invalid-feedback" in reply.content or b"alert-danger" in reply.content


def test_per_user_rows_on_the_page(client, world):
    query = {**QUERY, "rows": "user"}
    assert client.get("/accounting/", query).status_code == 403
    member = UserFactory()
    vo_member(member, testing.VO)
    client.force_login(member)
    assert client.get("/accounting/", {**query, "vos": testing.VO}).status_code == 403
    cesga, _other = world
    admin = UserFactory()
    grant(admin, RoleType.SITE_ADMIN, cesga)
    client.force_login(admin)
    reply = client.get("/accounting/", {**query, "sites": testing.SITE})
    assert reply.status_code == 200 and testing.USER_DN in reply.content.decode()


def test_the_site_page_query_count_does_not_grow_with_usage(client, recent, django_assert_max_num_queries):
    cesga, _appliance = recent
    with CaptureQueriesContext(connection) as few:
        client.get(cesga.get_absolute_url())
    y, m = reports.shift_month(last_month(), -1)
    more = [
        {
            "uuid": f"6e0c1d2e-3f4a-4b5c-9d8e-7f6a5b4c3d{i:02d}",
            "status": "completed",
            "fqan": f"vo{i}.example.org",
            "start_time": datetime(y, m, 1, tzinfo=UTC),
            "end_time": datetime(y, m, 3, tzinfo=UTC),
        }
        for i in range(10)
    ]
    services.ingest(services.Sender(cesga, description="tests"), testing.cloud_message(more))
    services.summarise([cesga.pk])
    with django_assert_max_num_queries(len(few)):
        assert client.get(cesga.get_absolute_url()).status_code == 200


@pytest.mark.parametrize("sites", [1, 8])
def test_the_page_has_a_fixed_query_count(client, world, django_assert_max_num_queries, sites):
    for _ in range(sites):
        SiteFactory()
    with django_assert_max_num_queries(3):  # the session-less page: one aggregate query
        assert client.get("/accounting/", QUERY).status_code == 200


def test_vendored_chart_library_and_script():
    path = finders.find("vendor/chart.umd.min.js")
    assert path, "Chart.js is vendored"
    with open(path, encoding="utf-8") as f:
        head = f.read(200)
    assert "Chart.js v4." in head and "MIT License" in head
    assert finders.find("accounting.js")


# --- panels ----------------------------------------------------------------------------------------------


def last_month():
    return reports.shift_month(reports.this_month(), -1)


@pytest.fixture
def recent(world):
    """A VM that ran a day last month at CESGA-CLOUD, on an appliance's image; returns (site, appliance)."""
    cesga, _other = world
    appliance = published_appliance()
    image = appliance.versions.get().images.get()
    y, m = last_month()
    vm = {
        "uuid": "5e0c1d2e-3f4a-4b5c-9d8e-7f6a5b4c3d2e", "status": "completed", "cpu_count": 2,
        "start_time": datetime(y, m, 1, tzinfo=UTC), "end_time": datetime(y, m, 2, tzinfo=UTC),
        "image_id": f"{settings.PORTAL_URL}/store/vm/image/{image.guid}:{image.pk}/",
    }  # fmt: skip
    services.ingest(services.Sender(cesga, description="tests"), testing.cloud_message([vm]))
    services.summarise([cesga.pk])
    return cesga, appliance


def test_the_site_page_shows_its_usage_last_messages_and_missing_months(client, recent):
    cesga, _appliance = recent
    reply = client.get(cesga.get_absolute_url())
    assert reply.status_code == 200
    body = reply.content.decode()
    assert f"Usage at {cesga.short_name}" in body and reports.month_key(*last_month()) in body
    assert "Last message received" in body and "cloud:" in body and "storage:" in body
    # Last month had usage, this one has none yet: flagged.
    assert f"No usage was received for {reports.month_key(*reports.this_month())}." in body
    ((_template, panel),) = reply.context["object_panels"]
    assert panel["pivot"].cells == {(testing.VO, reports.month_key(*last_month())): 48}  # 2 vCPUs x 24 h


def test_the_ngi_page_shows_its_sites_usage(client, recent):
    cesga, _appliance = recent
    body = client.get(cesga.ngi.get_absolute_url()).content.decode()
    assert f"Usage of the sites of {cesga.ngi}" in body and cesga.short_name in body


def test_the_vo_page_shows_its_usage(client, recent):
    reply = client.get(f"/vos/{testing.VO}/")
    body = reply.content.decode()
    assert f"Usage by {testing.VO}" in body and testing.SITE in body
    panel = next(p for t, p in reply.context["panels"] if t == "accounting/inc/usage_panel.html")
    assert panel["pivot"].cells == {(testing.SITE, reports.month_key(*last_month())): 48}


def test_the_appliance_page_shows_its_images_usage(client, recent):
    _cesga, appliance = recent
    client.force_login(UserFactory(is_superuser=True))
    reply = client.get(appliance.get_absolute_url())
    assert f"Usage of the images of {appliance}" in reply.content.decode()
    ((_template, panel),) = reply.context["object_panels"]
    assert panel["pivot"].cells == {(testing.SITE, reports.month_key(*last_month())): 48}


def test_an_appliance_without_usage_shows_an_empty_panel(client, world):
    appliance = published_appliance()
    client.force_login(UserFactory(is_superuser=True))
    reply = client.get(appliance.get_absolute_url())
    assert "No usage in this period." in reply.content.decode()
    ((_template, panel),) = reply.context["object_panels"]
    assert panel["pivot"].cells == {}


def test_panels_do_not_show_users(client, recent):
    cesga, _appliance = recent
    body = client.get(cesga.get_absolute_url()).content.decode()
    assert testing.USER_DN not in body


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_chart_is_drawn_in_a_real_browser_under_the_csp(page):
    scenario.build()
    errors = []
    # No CSP refusal or script error at all: Chart.js, the chart code and htmx run from /static/ only.
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/accounting/?" + "&".join(f"{k}={v}" for k, v in QUERY.items()))
    canvas = page.locator("canvas[data-accounting-chart]")
    canvas.wait_for()
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('canvas[data-accounting-chart]'))"
    )
    labels = page.evaluate("() => Chart.getChart(document.querySelector('canvas[data-accounting-chart]')).data.labels")
    assert labels == ["2024-03", "2024-04", "2025-01"]
    series = page.evaluate(
        "() => Chart.getChart(document.querySelector('canvas[data-accounting-chart]')).data.datasets"
        ".map(d => [d.label, d.data])"
    )
    assert series == [[testing.SITE, [3812, 868, 0]], [scenario.OTHER, [0, 0, 48]]]
    assert errors == []

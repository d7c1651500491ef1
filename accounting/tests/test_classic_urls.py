"""The classic Accounting Portal URLs (accounting.md §5.1), so that reporting scripts keep working by changing
only the host: each example of the spec, JSON and CSV shapes, /egi/cloud/, per-user views, bad parts."""

import pytest

from accounting import testing
from accounting.tests import scenario
from egiportal.tests.factories import UserFactory, api_token, vo_member
from sites.choices import RoleType
from sites.tests.factories import grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return scenario.build()


def test_cpu_hours_per_region_and_year_for_a_custom_vo(client, world):
    reply = client.get(
        "/accounting/cloud/sum_elap_processors/REGION/Year/2025/01/2025/02/custom-belle/onlyinfrajobs/JSON/"
    )
    assert reply.status_code == 200 and reply["Content-Type"] == "application/json"
    assert reply.json() == [
        {"id": "NGI_DE", "2025": 48, "Total": 48, "Percent": 100},
        {"id": "Total", "2025": 48, "Total": 48, "Percent": 100},
        {"id": "Percent", "2025": 100, "Total": 100},
        {"id": "xlegend", "0": "2025"},
        {"id": "ylegend", "0": "NGI_DE"},
        {"id": "var", "xrange": "Year", "yrange": "REGION", "query": "sum_elap_processors"},
    ]


def test_vms_per_vo_and_month_as_an_html_page(client, world):
    reply = client.get(
        f"/accounting/cloud/vm_num/VO/DATE/2019/4/2025/2/custom-{testing.VO},{scenario.BELLE}/onlyinfrajobs/"
    )
    assert reply.status_code == 200 and reply["Content-Type"].startswith("text/html")
    body = reply.content.decode()
    assert "2024-03" in body and "2025-01" in body and testing.VO in body
    assert 'data-accounting-chart="/accounting/cloud/vm_num/VO/DATE/2019/4/2025/2/' in body and "/JSON/" in body


def test_egi_form_with_csv_and_no_trailing_slash(client, world):
    reply = client.get("/egi/cloud/number_of_virtual_machines/SITE/VO/2024/1/2025/12/custom-belle/onlyinfrajobs/CSV")
    assert reply.status_code == 200 and reply["Content-Type"].startswith("text/csv")
    assert reply.content.decode().splitlines() == [
        "SITE,belle,Total,Percent",
        f"{scenario.OTHER},1,1,100",
        "Total,1,1,100",
        "Percent,100,100,",
    ]


def test_bare_cloud_path_and_case_insensitive_format(client, world):
    reply = client.get("/cloud/sum_elap-hour/SITE/DATE/2024/03/2024/04/egi/onlyinfrajobs/json/")
    assert reply.status_code == 200
    assert reply.json()[0] == {"id": testing.SITE, "2024-03": 789.5, "2024-04": 217, "Total": 1007, "Percent": 100}
    assert reply.json()[-1]["query"] == "sum_elap-hour"


@pytest.mark.parametrize("selector,total", [("onlyinfrajobs", 3), ("localinfrajobs", 3), ("onlylocaljobs", 0)])
def test_local_selectors(client, world, selector, total):
    reply = client.get(f"/accounting/cloud/vm_num/SITE/DATE/2024/1/2024/12/egi/{selector}/JSON/")
    assert reply.status_code == 200
    assert next(o for o in reply.json() if o["id"] == "Total")["Total"] == total


@pytest.mark.parametrize("dimension", ["IMAGE", "STATUS", "SERVICE", "COUNTRY", "Year", "DATE", "REGION"])
def test_more_dimensions(client, world, dimension):
    reply = client.get(f"/accounting/cloud/vm_num/{dimension}/VO/2024/1/2025/12/egi/onlyinfrajobs/JSON/")
    assert reply.status_code == 200, reply.content
    assert reply.json()[-1]["yrange"] == dimension or reply.json()[-1]["yrange"].lower() == dimension.lower()


@pytest.mark.parametrize(
    "path,reason",
    [
        ("vm_num/SITE/DATE/2024/1/2024/12/egi/onlyinfrajobs/XML/", "not JSON or CSV"),
        ("vm_num/SITE/DATE/24/1/2024/12/egi/onlyinfrajobs/JSON/", "not a year"),
        ("vm_num/SITE/DATE/2024/13/2024/12/egi/onlyinfrajobs/JSON/", "not a month"),
        ("vm_num/SITE/DATE/2024/１/2024/12/egi/onlyinfrajobs/JSON/", "not a month"),
        ("vm_num/SITE/DATE/2025/1/2024/12/egi/onlyinfrajobs/JSON/", "after the end"),
        ("vm_num/SITE/DATE/2024/1/2024/12/atlas/onlyinfrajobs/JSON/", "VO group"),
        ("vm_num/SITE/DATE/2024/1/2024/12/custom-/onlyinfrajobs/JSON/", "VO group"),
        ("vm_num/SITE/DATE/2024/1/2024/12/custom-a%20b/onlyinfrajobs/JSON/", "not a VO name"),
        ("vm_num/SITE/DATE/2024/1/2024/12/egi/alljobs/JSON/", "Selector"),
        ("cost/SITE/DATE/2024/1/2024/12/egi/onlyinfrajobs/JSON/", "cost"),
        ("nope/SITE/DATE/2024/1/2024/12/egi/onlyinfrajobs/JSON/", "Unknown metric"),
        ("vm_num/PLANET/DATE/2024/1/2024/12/egi/onlyinfrajobs/JSON/", "Unknown dimension"),
        ("vm_num/SITE/SITE/2024/1/2024/12/egi/onlyinfrajobs/JSON/", "different"),
        ("vm_num/SITE/DATE/2024/1/JSON/", "parts"),
        ("vm_num/SITE/DATE/2024/1/2024/12/egi/onlyinfrajobs/JSON/extra/more/", "parts"),
        ("x" * 5000 + "/SITE/DATE/2024/1/2024/12/egi/onlyinfrajobs/JSON/", "Unknown metric"),
        ("vm_num%00/SITE/DATE/2024/1/2024/12/egi/onlyinfrajobs/JSON/", "Unknown metric"),
    ],
)
def test_bad_parts_are_400_with_the_reason_as_json(client, world, path, reason):
    reply = client.get("/accounting/cloud/" + path)
    assert reply.status_code == 400, reply.content
    assert reply["Content-Type"] == "application/json" if path.endswith("JSON/") else True
    assert reason in (reply.json()["detail"] if path.endswith("JSON/") else reply.content.decode())
    assert len(reply.content) < 1000


def test_bad_parts_as_plain_text_for_csv_and_html(client, world):
    reply = client.get("/accounting/cloud/vm_num/SITE/DATE/2024/1/2024/12/atlas/onlyinfrajobs/CSV/")
    assert reply.status_code == 400 and reply["Content-Type"].startswith("text/plain") and b"VO group" in reply.content
    reply = client.get("/accounting/cloud/vm_num/SITE/DATE/2024/1/2024/12/atlas/onlyinfrajobs/")
    assert reply.status_code == 400 and reply["Content-Type"].startswith("text/plain")


def test_user_dimension_on_classic_urls(client, world):
    path = "/accounting/cloud/vm_num/UserDN/DATE/2024/1/2025/12/egi/onlyinfrajobs/JSON/"
    assert client.get(path).status_code == 403
    member = UserFactory()
    vo_member(member, testing.VO)
    client.force_login(member)
    assert client.get(path).status_code == 403
    manager = UserFactory()
    vo_member(manager, testing.VO, manager=True)
    client.force_login(manager)
    reply = client.get(path)
    assert reply.status_code == 200 and reply.json()[0]["id"] == testing.USER_DN


# --- /vo_admin/cloud/<vo>/<metric>/UserDN/DATE/<from>/<to>/JSON ------------------------------------------

VO_ADMIN = f"/vo_admin/cloud/{testing.VO}/sum_elap_processors/UserDN/DATE/2024-01/2024-12/JSON"


def test_vo_admin_for_the_vo_manager_with_a_token(client, world):
    manager = UserFactory()
    vo_member(manager, testing.VO, manager=True)
    _token, secret = api_token(manager)
    reply = client.get(VO_ADMIN, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert reply.status_code == 200, reply.content
    assert reply.json()[0] == {"id": testing.USER_DN, "2024-03": 3812, "2024-04": 868, "Total": 4680, "Percent": 100}
    assert reply.json()[-1] == {"id": "var", "xrange": "DATE", "yrange": "UserDN", "query": "sum_elap_processors"}
    four_parts = f"/vo_admin/cloud/{testing.VO}/vm_num/UserDN/DATE/2024/3/2024/3/JSON/"
    assert client.get(four_parts, HTTP_AUTHORIZATION=f"Bearer {secret}").json()[0]["Total"] == 2


def test_vo_admin_refused_to_others(client, world):
    cesga, _other = world
    assert client.get(VO_ADMIN).status_code == 403
    member = UserFactory()
    vo_member(member, testing.VO)
    client.force_login(member)
    assert client.get(VO_ADMIN).status_code == 403
    other_manager = UserFactory()
    vo_member(other_manager, scenario.BELLE, manager=True)
    client.force_login(other_manager)
    assert client.get(VO_ADMIN).status_code == 403
    site_admin = UserFactory()
    grant(site_admin, RoleType.SITE_ADMIN, cesga)
    client.force_login(site_admin)
    assert client.get(VO_ADMIN).status_code == 403  # the VO view is for its managers
    client.logout()
    _token, secret = api_token(UserFactory())
    assert client.get(VO_ADMIN, HTTP_AUTHORIZATION=f"Bearer {secret}x").status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        f"/vo_admin/cloud/{testing.VO}/vm_num/VO/DATE/2024-01/2024-12/JSON",
        f"/vo_admin/cloud/{testing.VO}/vm_num/UserDN/DATE/2024-01/JSON",
        f"/vo_admin/cloud/{testing.VO}/vm_num/UserDN/DATE/2024-01/2024-12/",
        f"/vo_admin/cloud/{testing.VO}/vm_num/UserDN/DATE/2024-13/2024-12/JSON",
        "/vo_admin/cloud/",
    ],
)
def test_vo_admin_bad_parts(client, world, path):
    root = UserFactory(is_superuser=True)
    client.force_login(root)
    assert client.get(path).status_code == 400

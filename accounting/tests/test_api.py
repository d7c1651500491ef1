"""The accounting REST API (/api/v1/accounting/): summaries with APEL's column names and units, exact
decimals, nulls for APEL's nulls; per-user detail (global_user_name, the records, the raw messages) only for
the site's administrators, the VO's managers and portal administrators, seen from both sides; filters with
hostile values; a fixed query count; CSV and XML."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from accounting import services, testing
from accounting.api.serializers import ExactDecimalField
from accounting.models import AcceleratorSummary, CloudRecord, CloudSummary, RawMessage
from egiportal.models import VirtualOrganisation, VOMembership
from egiportal.tests.factories import UserFactory
from sites.choices import RoleType
from sites.tests.factories import SiteFactory, grant

pytestmark = pytest.mark.django_db
API = "/api/v1/accounting/"
START = 1709280000  # 1 March 2024 08:00 UTC, the VM's StartTime
WALL = 2646000  # to the cASO run of 31 March 23:00
CLOUD_FIELDS = [
    "id", "url", "site", "site_name", "cloud_compute_service", "year", "month", "global_user_name", "vo", "vo_group",
    "vo_role", "status", "image_id", "cpu_count", "benchmark_type", "benchmark", "number_of_vms", "wall_duration",
    "cpu_duration", "network_inbound", "network_outbound", "memory", "disk", "earliest_start_time",
    "latest_start_time", "cloud_type",
]  # fmt: skip


@pytest.fixture
def site():
    return SiteFactory(short_name=testing.SITE)


@pytest.fixture
def vo():
    return VirtualOrganisation.objects.create(name=testing.VO)


def deliver(site, body):
    """Ingest `body` as the site's credential would, then summarise (as the task after commit does)."""
    done = services.ingest(services.Sender(site, description="tests"), body)
    services.summarise()
    return done


@pytest.fixture
def usage(site, vo):
    """A cloud message from cASO (the spec's running VM, its benchmark 12.345) with IP, accelerator and storage."""
    deliver(site, testing.cloud_message([{"benchmark_value": 12.345}]))
    deliver(site, testing.ip_message([{}]))
    deliver(site, testing.accelerator_message([{}]))
    deliver(site, testing.storage_message([{}]))
    return site


def get(client, path, user=None):
    client.logout()
    if user is not None:
        client.force_login(user)
    return client.get(path)


def member(vo, manager):
    user = UserFactory()
    VOMembership.objects.create(user=user, vo=vo, manager=manager)
    return user


def site_admin(site):
    user = UserFactory()
    grant(user, RoleType.SITE_ADMIN, site)
    return user


@pytest.fixture
def callers(site, vo):
    """(who, user, may see per-user detail) for every kind of caller of the brief."""
    other_vo = VirtualOrganisation.objects.create(name="other.vo.example.org")
    return [
        ("anonymous", None, False),
        ("member who is not a manager", member(vo, manager=False), False),
        ("another site's admin", site_admin(SiteFactory(short_name="OTHER-CLOUD")), False),
        ("another VO's manager", member(other_vo, manager=True), False),
        ("the site's admin", site_admin(site), True),
        ("the VO's manager", member(vo, manager=True), True),
        ("a portal administrator", UserFactory(is_superuser=True), True),
    ]


# ---------------------------------------------------------------- the cloud summary of a cASO message


def test_a_cloud_summary_has_apel_columns_units_and_exact_values(client, usage, site):
    response = get(client, f"{API}cloud-summaries/", UserFactory(is_superuser=True))
    assert response.status_code == 200, response.content
    [row] = response.json()["results"]
    assert list(row) == CLOUD_FIELDS
    summary = CloudSummary.objects.get()
    assert row == {
        "id": summary.pk,
        "url": f"http://testserver{API}cloud-summaries/{summary.pk}/",
        "site": {"id": site.pk, "url": f"http://testserver/api/v1/sites/{site.pk}/", "display": testing.SITE,
                 "name": testing.SITE},
        "site_name": testing.SITE,
        "cloud_compute_service": testing.SERVICE,
        "year": 2024,
        "month": 3,
        "global_user_name": testing.USER_DN,
        "vo": testing.VO,
        "vo_group": None,
        "vo_role": None,
        "status": "started",
        "image_id": testing.IMAGE_ID,
        "cpu_count": 4.0,
        "benchmark_type": "HEPscore23",
        "benchmark": 12.345,
        "number_of_vms": 1,
        "wall_duration": WALL,
        "cpu_duration": WALL * 4,
        "network_inbound": None,
        "network_outbound": None,
        "memory": 8192,
        "disk": 80,
        "earliest_start_time": START,
        "latest_start_time": START,
        "cloud_type": summary.cloud_type,
    }  # fmt: skip
    assert summary.cloud_type.startswith("caso/")
    # Decimals as exact JSON numbers in the text itself, epoch seconds as integers.
    text = response.content.decode()
    assert '"benchmark":12.345,' in text and '"cpu_count":4.0,' in text
    assert f'"earliest_start_time":{START},' in text


def test_sums_of_decimals_stay_exact(client, site, vo):
    """Accelerator counts 0.1 and 0.2 of one group sum to 0.3, not 0.30000000000000004 (cASO sends whole
    counts; APEL's record takes a decimal Count, as another sender may write it)."""
    body = json.loads(testing.accelerator_message([{}, {"uuid": "b53738e1-13eb-4047-800c-067d14ce3d22"}]))
    body["UsageRecords"][0]["Count"], body["UsageRecords"][1]["Count"] = 0.1, 0.2
    deliver(site, json.dumps(body).encode())
    assert AcceleratorSummary.objects.get().count == Decimal("0.3")
    response = get(client, f"{API}accelerator-summaries/")
    assert '"count":0.3,' in response.content.decode()
    assert response.json()["results"][0]["count"] == 0.3


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=Decimal("-9999999999.999"), max_value=Decimal("9999999999.999"), places=3))
def test_every_decimal_of_the_columns_is_written_exactly(value):
    """Whatever the stored value (13 digits, 3 after the point), the JSON text carries exactly its digits."""
    shown = ExactDecimalField(max_digits=13, decimal_places=3).to_representation(value)
    text = json.dumps(float(shown))  # what DRF's JSON encoder does with a Decimal
    assert Decimal(text) == value
    assert str(shown) == text or Decimal(str(shown)) == Decimal(text)


def test_apel_nulls_stored_as_blank_are_null(client, site, vo):
    deliver(site, testing.cloud_message([{"image_id": None, "benchmark_type": None, "benchmark_value": None}]))
    row = get(client, f"{API}cloud-summaries/").json()["results"][0]
    assert CloudSummary.objects.get().image_id == ""
    assert row["image_id"] is None and row["benchmark_type"] is None and row["vo_group"] is None


# ---------------------------------------------------------------- per-user detail, both sides


def test_global_user_name_is_withheld_unless_the_caller_may_see_it(client, usage, callers):
    summary = CloudSummary.objects.get()
    for who, user, allowed in callers:
        for path in (f"{API}cloud-summaries/", f"{API}cloud-summaries/{summary.pk}/"):
            response = get(client, path, user)
            assert response.status_code == 200, (who, response.content)
            row = response.json()["results"][0] if "results" in response.json() else response.json()
            assert row["global_user_name"] == (testing.USER_DN if allowed else None), who
            assert list(row) == CLOUD_FIELDS, who
        accelerator = get(client, f"{API}accelerator-summaries/", user).json()["results"][0]
        assert accelerator["global_user_name"] == (testing.USER_DN if allowed else None), who


def test_each_row_is_masked_on_its_own(client, usage, vo):
    """A site's admin sees the users of their site's rows only, in the same list as another site's."""
    other = SiteFactory(short_name="OTHER-CLOUD")
    deliver(other, testing.cloud_message([{"site_name": "OTHER-CLOUD"}]))
    rows = get(client, f"{API}cloud-summaries/", site_admin(other)).json()["results"]
    shown = {row["site_name"]: row["global_user_name"] for row in rows}
    assert shown == {testing.SITE: None, "OTHER-CLOUD": testing.USER_DN}


@pytest.mark.parametrize(
    "kind", ["cloud-records", "ip-records", "accelerator-records", "storage-records", "raw-messages"]
)
def test_records_are_for_who_may_see_per_user_detail(client, usage, callers, kind):
    for who, user, allowed in callers:
        if kind == "raw-messages" and who == "the VO's manager":
            allowed = False  # the messages are the site's: its administrators (and portal administrators) only
        response = get(client, f"{API}{kind}/", user)
        assert response.status_code == 200, (who, response.content)
        rows = response.json()["results"]
        assert bool(rows) == allowed, (who, kind)
        any_row = (RawMessage if kind == "raw-messages" else CloudRecord).objects.first()
        if kind in ("cloud-records", "raw-messages"):
            detail = get(client, f"{API}{kind}/{any_row.pk}/", user)
            assert detail.status_code == (200 if allowed else 404), (who, kind)


def test_a_cloud_record_shows_its_user_to_the_vo_manager(client, usage, vo):
    [row] = get(client, f"{API}cloud-records/", member(vo, manager=True)).json()["results"]
    assert row["vm_uuid"] == testing.VM_UUID and row["global_user_name"] == testing.USER_DN
    assert row["start_time"] == START and row["end_time"] is None and row["wall_duration"] == WALL


def test_raw_messages_list_without_bodies_and_detail_with_it(client, usage, site):
    admin = site_admin(site)
    rows = get(client, f"{API}raw-messages/", admin).json()["results"]
    assert len(rows) == 4 and {row["kind"] for row in rows} == {"cloud", "ip", "accelerator", "storage"}
    assert "body" not in rows[0]
    assert {"received", "kind", "state", "record_count", "error", "message_id", "site"} <= set(rows[0])
    cloud = RawMessage.objects.get(kind="cloud")
    detail = get(client, f"{API}raw-messages/{cloud.pk}/", admin).json()
    assert detail["body"] == cloud.body and detail["body"].startswith("APEL-cloud-message: v0.4")
    assert detail["site"]["name"] == testing.SITE and detail["state"] == "accepted"


# ---------------------------------------------------------------- filters


def test_filters(client, usage, vo):
    other = SiteFactory(short_name="OTHER-CLOUD")
    deliver(
        other,
        testing.cloud_message(
            [
                {
                    "site_name": "OTHER-CLOUD",
                    "start_time": testing.utc(testing.EXTRACT_TO.replace(day=1, month=2)),
                    "extract_to": testing.EXTRACT_TO.replace(month=2, day=28),
                }
            ]
        ),
    )

    def names(query):
        response = get(client, f"{API}cloud-summaries/?{query}")
        assert response.status_code == 200, (query, response.content)
        return sorted(row["site_name"] for row in response.json()["results"])

    both = sorted([testing.SITE, "OTHER-CLOUD"])
    assert names("") == both
    assert names(f"site={testing.SITE}") == [testing.SITE]
    assert names(f"site={testing.SITE},OTHER-CLOUD") == both
    assert names(f"ngi={other.ngi.name}") == ["OTHER-CLOUD"]
    assert names(f"country={other.country.code}") == sorted(
        s.short_name for s in (usage, other) if s.country_id == other.country_id
    )
    assert names(f"vo={testing.VO}&vo=another.vo") == both
    assert names("vo=another.vo") == []
    assert names("year=2024&month=3") == [testing.SITE]
    assert names("from=2024-03&to=2024-12") == [testing.SITE]
    assert names("from=2023-11&to=2024-2") == ["OTHER-CLOUD"]
    assert names("to=2024-02") == ["OTHER-CLOUD"]
    assert names("status=started") == both
    assert names(f"image_id={testing.IMAGE_ID}") == both
    assert names(f"cloud_compute_service={testing.SERVICE}") == both


@pytest.mark.parametrize(
    "query",
    [
        "site=NO-SUCH-SITE",
        "ngi=NO_SUCH_NGI",
        "country=ZZ",
        "month=13",
        "month=0",
        "year=abc",
        "from=2024-13",
        "from=2024-03&to=2024-02",
        "from=20240",
        "to=1969-12",
        "vo=a%00b",
        "site=CESGA%00",
        "q=%00",
        "status=" + "x" * 10_000,
        "vo=" + "x" * 10_000,
        "image_id=" + "x" * 10_000,
        "from=" + "2" * 10_000,
        "no_such_filter=1",
    ],
)
def test_bad_filter_values_are_400(client, usage, query):
    for kind in ("cloud-summaries", "cloud-records"):
        response = get(client, f"{API}{kind}/?{query}", UserFactory(is_superuser=True))
        assert response.status_code == 400, (kind, query[:60], response.content[:200])
        assert response.json()


def test_filtering_on_users_is_for_who_may_see_them(client, usage, callers, vo):
    for who, user, allowed in callers:
        # Who may see per-user data on no row at all (another site's or VO's, without usage) may not filter on it.
        response = get(client, f"{API}cloud-summaries/?global_user_name={testing.USER_DN}", user)
        if allowed:
            assert response.status_code == 200 and len(response.json()["results"]) == 1, who
        else:
            assert response.status_code == 400 and "global_user_name" in response.json(), who


def test_another_site_admin_cannot_probe_users_of_other_sites(client, usage):
    other = SiteFactory(short_name="OTHER-CLOUD")
    deliver(other, testing.cloud_message([{"site_name": "OTHER-CLOUD", "user_dn": "someone-else@egi.eu"}]))
    admin = site_admin(other)
    probe = get(client, f"{API}cloud-summaries/?global_user_name__in={testing.USER_DN}", admin)
    assert probe.status_code == 200 and probe.json()["results"] == []
    own = get(client, f"{API}cloud-summaries/?global_user_name=someone-else@egi.eu", admin)
    assert [row["site_name"] for row in own.json()["results"]] == ["OTHER-CLOUD"]


# ---------------------------------------------------------------- cost, renderings, schema


def vms(count, start=0):
    """`count` VMs of distinct images: one summary row each."""
    return [{"uuid": f"00000000-0000-4000-8000-{n:012d}", "image_id": f"img-{n}"} for n in range(start, start + count)]


@pytest.mark.parametrize("kind", ["cloud-summaries", "cloud-records"])
@pytest.mark.parametrize("who", ["anonymous", "site admin", "VO manager"])
def test_list_query_count_is_fixed(client, site, vo, django_assert_max_num_queries, kind, who):
    user = {"anonymous": None, "site admin": site_admin(site), "VO manager": member(vo, manager=True)}[who]
    deliver(site, testing.cloud_message(vms(3)))

    if user is not None:
        client.force_login(user)

    def count():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{API}{kind}/?site={testing.SITE}&limit=100")
        assert response.status_code == 200
        return len(queries), len(response.json()["results"])

    few, rows = count()
    assert rows == (0 if who == "anonymous" and kind == "cloud-records" else 3)
    deliver(site, testing.cloud_message(vms(27, start=3)))
    with django_assert_max_num_queries(few):
        _, rows = count()
    assert rows == (0 if who == "anonymous" and kind == "cloud-records" else 30)
    assert few <= 7  # session, user, the site filter's names, count, page, one role check


def test_csv_and_xml(client, usage):
    admin = UserFactory(is_superuser=True)
    csv_reply = get(client, f"{API}cloud-summaries/?format=csv", admin)
    assert csv_reply.status_code == 200 and csv_reply["Content-Type"].startswith("text/csv")
    header, line = csv_reply.content.decode().splitlines()
    assert header.split(",") == CLOUD_FIELDS
    values = dict(zip(CLOUD_FIELDS, next(__import__("csv").reader([line])), strict=True))
    assert values["benchmark"] == "12.345" and values["cpu_count"] == "4.0"
    assert values["earliest_start_time"] == str(START) and values["vo_group"] == ""
    xml_reply = get(client, f"{API}cloud-summaries/?format=xml", admin)
    assert xml_reply.status_code == 200
    root = etree.fromstring(xml_reply.content)
    item = root.find("results/item")
    assert item.findtext("benchmark") == "12.345" and item.findtext("wall_duration") == str(WALL)
    assert item.find("vo_group").get("null") == "true"
    assert get(client, f"{API}cloud-summaries/?format=csv").content.decode().count(testing.USER_DN) == 0


def test_brief_fields_and_etag(client, usage):
    summary = CloudSummary.objects.get()
    brief = get(client, f"{API}cloud-summaries/{summary.pk}/?brief=1").json()
    assert sorted(brief) == ["id", "month", "site_name", "url", "vo", "year"]
    anonymous = get(client, f"{API}cloud-summaries/{summary.pk}/")
    admin = get(client, f"{API}cloud-summaries/{summary.pk}/", UserFactory(is_superuser=True))
    assert anonymous["ETag"].startswith("W/") and anonymous["ETag"] != admin["ETag"]
    assert get(client, f"{API}cloud-summaries/99999999/").status_code == 404


def test_read_only(client, usage):
    admin = UserFactory(is_superuser=True)
    client.force_login(admin)
    summary = CloudSummary.objects.get()
    assert client.delete(f"{API}cloud-summaries/{summary.pk}/").status_code == 405
    assert client.post(f"{API}cloud-records/", {}, content_type="application/json").status_code == 405
    assert CloudSummary.objects.count() == 1


def test_the_schema_describes_the_tables_and_the_ingestion_post(client):
    spec = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = spec["paths"]
    for kind in ("cloud-summaries", "ip-summaries", "accelerator-summaries", "storage-summaries", "cloud-records",
                 "ip-records", "accelerator-records", "storage-records", "raw-messages"):  # fmt: skip
        assert set(paths[f"{API}{kind}/"]) == {"get"} and f"{API}{kind}/{{id}}/" in paths
    post = paths[f"{API}messages/"]["post"]
    assert list(post["requestBody"]["content"]) == ["text/plain"]
    assert {"200", "201", "400", "401", "403", "413"} <= set(post["responses"])
    cloud = spec["components"]["schemas"]["CloudSummary"]["properties"]
    assert list(cloud) == CLOUD_FIELDS
    assert cloud["cpu_count"]["type"] == "number" and cloud["earliest_start_time"]["type"] == "integer"
    assert cloud["global_user_name"]["nullable"] is True
    params = {p["name"] for p in paths[f"{API}cloud-summaries/"]["get"]["parameters"]}
    assert {"site", "ngi", "country", "vo", "year", "month", "from", "to", "status", "image_id"} <= params


def test_the_ingestion_post_still_answers_as_before(client, site):
    """The schema's view sends requests to the plain ingestion view: a GET is refused, a POST without a
    credential is answered in JSON, and no session cookie is taken (no CSRF check)."""
    assert client.get(f"{API}messages/").status_code == 405
    reply = client.post(f"{API}messages/", testing.cloud_message([{}]), content_type="text/plain")
    assert reply.status_code in (401, 403) and reply.json()["detail"]
    assert not CloudRecord.objects.exists()

"""The site list: filters, invalid filters, sorting, paging, CSV export and the htmx partial."""

import csv
import io

import pytest
from django.urls import reverse

from endpoints.tests.factories import ServiceFactory
from sites.models import Country, Scope
from sites.tests.factories import NGIFactory, ProjectFactory, SiteFactory

pytestmark = pytest.mark.django_db

LIST = reverse("sites:site_list")


def names(response):
    return sorted(row.record.short_name for row in response.context["table"].paginated_rows)


@pytest.fixture
def federation():
    egi, local, wlcg = (Scope.objects.get(name=n) for n in ("EGI", "Local", "wlcg"))
    nl, de = NGIFactory(name="NGI_NL"), NGIFactory(name="NGI_DE")
    project = ProjectFactory(name="EGI")
    project.ngis.add(nl)
    a = SiteFactory(short_name="AMS", ngi=nl, scopes=[egi, wlcg], description="Amsterdam cloud")
    b = SiteFactory(short_name="UTR", ngi=nl, scopes=[egi], certification_status="Suspended", infrastructure="Test")
    c = SiteFactory(short_name="BER", ngi=de, scopes=[local], country=Country.objects.get(code="DE"))
    a.properties.create(key="cloud", value="openstack")
    b.properties.create(key="cloud", value="opennebula")
    a.properties.create(key="gpu", value="yes")
    return a, b, c


@pytest.mark.parametrize(
    "query, expected",
    [
        ({}, ["AMS", "BER", "UTR"]),
        ({"ngi": "NGI_NL"}, ["AMS", "UTR"]),
        ({"ngi": ["NGI_NL", "NGI_DE"]}, ["AMS", "BER", "UTR"]),
        ({"country": "DE"}, ["BER"]),
        ({"certification_status": "Suspended"}, ["UTR"]),
        ({"certification_status": ["Suspended", "Certified"]}, ["AMS", "BER", "UTR"]),
        ({"infrastructure": "Test"}, ["UTR"]),
        ({"project": "EGI"}, ["AMS", "UTR"]),
        ({"scope": "EGI"}, ["AMS", "UTR"]),
        ({"scope": ["EGI", "wlcg"]}, ["AMS"]),
        ({"scope": ["EGI", "wlcg"], "scope_match": "all"}, ["AMS"]),
        ({"scope": ["wlcg", "Local"], "scope_match": "any"}, ["AMS", "BER"]),
        ({"property": "cloud"}, ["AMS", "UTR"]),
        ({"property": "cloud=openstack"}, ["AMS"]),
        ({"property": ["cloud", "gpu=yes"]}, ["AMS"]),
        ({"property": "cloud=nothing"}, []),
        ({"q": "amsterdam"}, ["AMS"]),
        ({"q": "ber"}, ["BER"]),
        ({"ngi": "NGI_NL", "certification_status": "Certified"}, ["AMS"]),
    ],
)
def test_filters(client, federation, query, expected):
    response = client.get(LIST, query)
    assert response.status_code == 200
    assert names(response) == expected


@pytest.mark.parametrize(
    "query, field",
    [
        ({"certification_status": "Bogus"}, "certification_status"),
        ({"scope": "nonexistent"}, "scope"),
        ({"ngi": "NGI_NOWHERE"}, "ngi"),
        ({"country": "XX"}, "country"),
        ({"infrastructure": "Mainframe"}, "infrastructure"),
        ({"scope_match": "some"}, "scope_match"),
        ({"property": "=value"}, "property"),
        ({"notify": "perhaps"}, "notify"),
    ],
)
def test_invalid_filter_values_are_400_with_the_error_shown(client, federation, query, field):
    response = client.get(LIST, query)
    assert response.status_code == 400
    assert field in response.context["filterset"].errors
    body = response.content.decode()
    assert "The filter is not valid" in body
    assert "AMS" not in names(response)
    # Neither is an invalid filter exported.
    export = client.get(LIST, {**query, "export": "csv"})
    assert export.status_code == 400 and export["Content-Type"].startswith("text/html")


def test_hostile_filter_value_is_escaped(client, federation):
    response = client.get(LIST, {"ngi": "<script>alert(1)</script>"})
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.content.decode()


def test_sorting(client, federation):
    response = client.get(LIST, {"sort": "short_name"})
    assert [r.record.short_name for r in response.context["table"].paginated_rows] == ["AMS", "BER", "UTR"]
    response = client.get(LIST, {"sort": "-short_name"})
    assert [r.record.short_name for r in response.context["table"].paginated_rows] == ["UTR", "BER", "AMS"]
    response = client.get(LIST, {"sort": "ngi"})
    assert [r.record.ngi.name for r in response.context["table"].paginated_rows] == ["NGI_DE", "NGI_NL", "NGI_NL"]


def test_pagination(client, federation):
    response = client.get(LIST, {"per_page": 2})
    assert len(response.context["table"].page.object_list) == 2
    assert response.context["table"].page.paginator.count == 3
    response = client.get(LIST, {"per_page": 2, "page": 2, "sort": "short_name"})
    assert [r.record.short_name for r in response.context["table"].page.object_list] == ["UTR"]
    assert "3 results" in response.content.decode()
    assert client.get(LIST, {"per_page": "lots"}).status_code == 200


HOSTILE_NUMBERS = ["-5", "0", "100000", "abc", "1e9", "99999999999999999999", "1\x00", "\u0663", " 2"]


@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
def test_hostile_paging_of_html_lists(client, federation, settings, value):
    """per_page is clamped to LIST_MAX_PER_PAGE; what is not a whole number gives the default (it was a
    500 for -5, and 100000 rows were rendered); a bad page gives the first (past the end: the last)."""
    settings.LIST_MAX_PER_PAGE = 2
    for params in ({"per_page": value}, {"page": value}, {"per_page": value, "page": value}):
        response = client.get(LIST, params)
        if "\x00" in value:  # a NUL anywhere in the query refuses it before any query runs
            assert response.status_code == 400 and b"Null characters" in response.content, params
            continue
        assert response.status_code == 200, params
        page = response.context["table"].page
        big = value.isdigit() and value.isascii() and int(value) > 0 and "per_page" in params
        assert page.paginator.per_page == (2 if big else 50)
        assert page.number in (1, page.paginator.num_pages)
        assert len(page.object_list) == min(page.paginator.per_page, 3 - (page.number - 1) * page.paginator.per_page)


def test_hostile_paging_of_tables_on_detail_pages(client, federation):
    a, _, _ = federation
    service = ServiceFactory(site=a)
    pages = (f"/ngis/{a.ngi.pk}/", f"/scopes/{a.scopes.first().pk}/", f"/service-types/{service.service_type.pk}/")
    for path in pages:
        for value in ("-5", "0", "100000"):
            response = client.get(path, {"per_page": value, "page": value})
            assert response.status_code == 200, (path, value)


@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
def test_hostile_paging_of_the_rest_api(client, federation, value):
    """limit above the maximum is clamped, 0 is the maximum; anything else not a whole number is a 400."""
    for name in ("limit", "offset", "cursor"):
        reply = client.get("/api/v1/sites/", {name: value})
        if value.isascii() and value.isdigit() and len(value) <= 18:
            assert reply.status_code == 200, (name, value)
            if name == "limit":
                assert len(reply.json()["results"]) == 3
        elif "\x00" in value:
            assert reply.status_code == 400 and "Null characters" in reply.content.decode(), (name, value)
        else:
            assert reply.status_code == 400 and name in reply.json(), (name, value)


def test_csv_export_of_the_filtered_rows(client, federation):
    response = client.get(LIST, {"ngi": "NGI_NL", "export": "csv", "sort": "short_name"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="sites.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "Name",
        "Official name",
        "NGI",
        "Country",
        "Certification status",
        "Production status",
        "Services",
        "Scopes",
    ]
    assert rows[1] == ["AMS", "Official AMS", "NGI_NL", "Netherlands", "Certified", "Production", "0", "EGI;wlcg"]
    assert rows[2][0] == "UTR" and rows[2][4:6] == ["Suspended", "Test"]
    assert len(rows) == 3


def test_htmx_request_gets_only_the_table(client, federation):
    response = client.get(LIST, {"ngi": "NGI_DE"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and "<form" not in body
    assert "BER" in body and "AMS" not in body
    full = client.get(LIST).content.decode()
    assert "<html" in full and 'hx-get="/sites/"' in full


def test_ngi_and_project_pages(client, federation):
    a, _, _ = federation
    body = client.get(a.ngi.get_absolute_url()).content.decode()
    assert "AMS" in body and "UTR" in body and "BER" not in body
    project = a.ngi.projects.get()
    body = client.get(project.get_absolute_url()).content.decode()
    assert "NGI_NL" in body and "2 sites" in body
    response = client.get(reverse("sites:ngi_list"), {"project": "EGI"})
    assert [r.record.name for r in response.context["table"].paginated_rows] == ["NGI_NL"]
    assert client.get(reverse("sites:ngi_list"), {"project": "NOPE"}).status_code == 400
    response = client.get(reverse("sites:project_list"), {"q": "eg"})
    assert [r.record.name for r in response.context["table"].paginated_rows] == ["EGI"]

"""Browser views of services, endpoint locations and service types: permissions, hostile input,
filters, CSV export and query counts."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from egiportal.models import AuditLog
from endpoints.models import EndpointLocation, EndpointProperty, Service, ServiceProperty
from endpoints.tests.factories import DowntimeFactory, EndpointFactory, ServiceFactory, service_type
from sites.models import Country, Scope, SiteProperty
from sites.tests.factories import SiteFactory, user_with

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"endpoints:{name}", args=args)


@pytest.fixture
def site():
    return SiteFactory(short_name="NL-AMS")


@pytest.fixture
def service(site):
    return ServiceFactory(site=site, hostname="cloud.ams.example.org")


@pytest.fixture
def endpoint(service):
    return EndpointFactory(service=service, name="keystone")


@pytest.fixture
def admin_client(client, site):
    client.force_login(user_with("SITE_ADMIN", site))
    return client


@pytest.fixture
def other_client(client):
    client.force_login(user_with("SITE_ADMIN", SiteFactory()))
    return client


@pytest.fixture
def ngi_client(client, site):
    client.force_login(user_with("NGI_OPS_MAN", site.ngi))
    return client


def service_data(site, **overrides):
    data = {
        "site": site.pk,
        "service_type": service_type().pk,
        "hostname": "new.ams.example.org",
        "description": "New compute service",
        "url": "https://new.ams.example.org:5000/v3",
        "production": "on",
        "monitored": "on",
        "scopes": [Scope.objects.get(name="EGI").pk],
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def endpoint_data(service, **overrides):
    data = {"service": service.pk, "name": "nova", "url": "https://cloud.ams.example.org:8774/v2.1"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# -- add service ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin_client", "ngi_client"])
def test_role_holder_adds_service(request, site, who):
    client = request.getfixturevalue(who)
    response = client.get(url("service_add") + f"?site={site.pk}")
    assert response.status_code == 200
    assert f'<option value="{site.pk}" selected>' in response.content.decode()
    response = client.post(url("service_add"), service_data(site))
    service = Service.objects.get(hostname="new.ams.example.org")
    assert response.status_code == 302 and response["Location"] == service.get_absolute_url()
    assert AuditLog.objects.filter(action="create", object_id=service.pk).exists()


def test_admin_of_another_site_may_not_add_service(other_client, site):
    assert other_client.get(url("service_add") + f"?site={site.pk}").status_code == 403
    response = other_client.post(url("service_add"), service_data(site))
    assert response.status_code == 403
    assert "may not add services to site NL-AMS" in response.content.decode()
    assert not Service.objects.exists()


def test_anonymous_is_sent_to_login(client, service, endpoint):
    for target in [
        url("service_add"),
        url("service_edit", service.pk),
        url("service_delete", service.pk),
        url("service_properties", service.pk),
        url("endpoint_add"),
        url("endpoint_edit", endpoint.pk),
        url("endpoint_delete", endpoint.pk),
        url("endpoint_properties", endpoint.pk),
    ]:
        response = client.post(target, {})
        assert response.status_code == 302 and response["Location"].startswith("/login/"), target
    assert Service.objects.count() == 1 and EndpointLocation.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hostname", "cloud.example.org:8443"),
        ("hostname", "cloud example.org"),
        ("hostname", "cloud.example.org."),
        ("hostname", "h" * 300 + ".example.org"),
        ("url", "https://cloud.example.org/a path"),
        ("url", 'https://cloud.example.org/"quoted"'),
        ("description", "<script>alert(1)</script>"),
        ("description", "d" * 300),
        ("dn", "CN=no-leading-slash"),
        ("ip_address", "300.1.2.3.4"),
    ],
)
def test_hostile_service_input_gives_form_errors(admin_client, site, field, value):
    response = admin_client.post(url("service_add"), service_data(site, **{field: value}))
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert "<script>alert" not in response.content.decode()
    assert not Service.objects.exists() and not AuditLog.objects.exists()


def test_business_rule_errors_land_on_the_form(admin_client, site):
    ServiceFactory(hostname="dup.example.org")
    response = admin_client.post(url("service_add"), service_data(site, hostname="dup.example.org"))
    assert response.status_code == 400
    assert response.context["form"].errors["hostname"] == [
        "A org.openstack.nova service named dup.example.org already exists."
    ]
    response = admin_client.post(url("service_add"), service_data(site, monitored=None))
    assert response.status_code == 400 and response.context["form"].errors["monitored"]
    response = admin_client.post(url("service_add"), service_data(site, scopes=[]))
    assert response.status_code == 400 and response.context["form"].errors["scopes"]
    wlcg = Scope.objects.get(name="wlcg").pk
    response = admin_client.post(url("service_add"), service_data(site, scopes=[wlcg]))
    assert response.status_code == 400 and response.context["form"].errors["scopes"]
    assert Service.objects.count() == 1


# -- edit and delete service ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin_client", "ngi_client"])
def test_role_holder_edits_service(request, site, service, who):
    client = request.getfixturevalue(who)
    assert client.get(url("service_edit", service.pk)).status_code == 200
    response = client.post(url("service_edit", service.pk), service_data(site, description="Edited"))
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.description == "Edited"
    row = AuditLog.objects.get(action="update", object_id=service.pk)
    assert row.before["description"] == "A service" and row.after["description"] == "Edited"


def test_site_field_is_fixed_for_non_admins(admin_client, site, service):
    other = SiteFactory()
    response = admin_client.post(url("service_edit", service.pk), service_data(other, description="Moved?"))
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.site == site and service.description == "Moved?"


@pytest.mark.parametrize("who", ["admin_client", "ngi_client"])
def test_role_holder_deletes_service(request, site, service, who):
    client = request.getfixturevalue(who)
    DowntimeFactory(service=service)
    assert client.get(url("service_delete", service.pk)).status_code == 200
    response = client.post(url("service_delete", service.pk))
    assert response.status_code == 302 and response["Location"] == site.get_absolute_url()
    assert not Service.objects.exists() and not site.downtimes.exists()


# -- endpoints -----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin_client", "ngi_client"])
def test_role_holder_adds_edits_deletes_endpoint(request, service, who):
    client = request.getfixturevalue(who)
    assert client.get(url("endpoint_add") + f"?service={service.pk}").status_code == 200
    assert client.post(url("endpoint_add"), endpoint_data(service)).status_code == 302
    endpoint = EndpointLocation.objects.get(name="nova")
    assert endpoint.interface_name == "org.openstack.nova"
    response = client.post(url("endpoint_edit", endpoint.pk), endpoint_data(service, description="Compute API"))
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.description == "Compute API"
    response = client.post(url("endpoint_delete", endpoint.pk))
    assert response.status_code == 302 and response["Location"] == service.get_absolute_url()
    assert [r.action for r in AuditLog.objects.order_by("id")] == ["create", "update", "delete"]


def test_duplicate_endpoint_name_is_a_clear_form_error(admin_client, service, endpoint):
    response = admin_client.post(url("endpoint_add"), endpoint_data(service, name="keystone"))
    assert response.status_code == 400
    assert response.context["form"].errors["name"] == [f"Service {service} already has an endpoint named keystone."]
    assert EndpointLocation.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "bad/name"), ("url", "https://x.example.org/a b"), ("description", "<b>bold</b>"), ("name", "n" * 300)],
)
def test_hostile_endpoint_input_gives_form_errors(admin_client, service, field, value):
    response = admin_client.post(url("endpoint_add"), endpoint_data(service, **{field: value}))
    assert response.status_code == 400 and response.context["form"].errors[field]
    assert not EndpointLocation.objects.exists()


# -- properties ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin_client", "ngi_client"])
def test_service_and_endpoint_properties(request, service, endpoint, who):
    admin_client = request.getfixturevalue(who)
    response = admin_client.post(url("service_properties", service.pk), {"properties": "vo=biomed\ntier = 2"})
    assert response.status_code == 302
    assert dict(service.properties.values_list("key", "value")) == {"vo": "biomed", "tier": "2"}
    admin_client.post(url("service_property_delete", service.pk), {"key": "tier"})
    assert list(service.properties.values_list("key", flat=True)) == ["vo"]
    assert admin_client.post(url("endpoint_properties", endpoint.pk), {"properties": "gpu=yes"}).status_code == 302
    admin_client.post(url("endpoint_property_delete", endpoint.pk), {"key": "gpu"})
    assert not endpoint.properties.exists()
    changes = AuditLog.objects.filter(content_type__model="service", object_id=service.pk)
    assert [r.message for r in changes.order_by("id")] == ["Properties set", "Properties deleted"]
    assert changes.order_by("id").last().before["properties"] == {"vo": "biomed", "tier": "2"}


@pytest.mark.parametrize("line", ["bad key!=1", " =x", "key=<b>", 'key="q"', "k" * 300 + "=v", "key=" + "v" * 300])
def test_bad_property_formats_are_refused(admin_client, service, line):
    response = admin_client.post(url("service_properties", service.pk), {"properties": f"ok=1\n{line}"})
    assert response.status_code == 400
    assert not ServiceProperty.objects.exists()


def test_other_admin_may_not_edit_properties(other_client, service, endpoint):
    ServiceProperty.objects.create(parent=service, key="vo", value="biomed")
    assert other_client.post(url("service_properties", service.pk), {"properties": "a=b"}).status_code == 403
    assert other_client.post(url("service_property_delete", service.pk), {"key": "vo"}).status_code == 403
    assert other_client.post(url("endpoint_properties", endpoint.pk), {"properties": "a=b"}).status_code == 403
    assert list(ServiceProperty.objects.values_list("key", flat=True)) == ["vo"]
    assert not EndpointProperty.objects.exists()


# -- pages ---------------------------------------------------------------------------------------


def test_service_page_shows_everything_escaped(client, service, endpoint):
    # Stored without validation, as an import could: the page must still render it inert.
    Service.objects.filter(pk=service.pk).update(description="<script>alert(1)</script>", dn="/CN=host")
    EndpointProperty.objects.create(parent=endpoint, key="gpu", value="A100")
    ServiceProperty.objects.create(parent=service, key="vo", value="biomed")
    DowntimeFactory(service=service, description="Disk swap")
    body = client.get(service.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    for text in ["NL-AMS", "org.openstack.nova", "keystone", "A100", "biomed", "Disk swap", "/CN=host", "History"]:
        assert text in body
    assert "Edit" not in body  # anonymous visitors get no edit buttons


def test_endpoint_and_service_type_pages(client, service, endpoint):
    body = client.get(endpoint.get_absolute_url()).content.decode()
    assert service.hostname in body and endpoint.url in body
    body = client.get(service.service_type.get_absolute_url()).content.decode()
    assert service.hostname in body
    body = client.get(url("servicetype_list") + "?q=nova").content.decode()
    assert "org.openstack.nova" in body and "VOMS" not in body


def test_history_pages(admin_client, site, service, endpoint):
    admin_client.post(url("service_edit", service.pk), service_data(site, description="Edited"))
    body = admin_client.get(url("service_history", service.pk)).content.decode()
    assert "Edited" in body and "A service" in body
    assert admin_client.get(url("endpoint_history", endpoint.pk)).status_code == 200


def test_site_page_links_services_and_offers_add(client, site, service):
    body = client.get(site.get_absolute_url()).content.decode()
    assert f'href="{service.get_absolute_url()}"' in body and "Add service" not in body
    client.force_login(user_with("SITE_ADMIN", site))
    body = client.get(site.get_absolute_url()).content.decode()
    assert f"{url('service_add')}?site={site.pk}" in body


# -- lists, filters, export ----------------------------------------------------------------------


def hostnames(response):
    assert response.status_code == 200
    return sorted(row.record.hostname for row in response.context["table"].page.object_list)


@pytest.fixture
def federation():
    egi, local = Scope.objects.get(name="EGI"), Scope.objects.get(name="Local")
    a = SiteFactory(short_name="SITE-A", country=Country.objects.get(code="DE"), certification_status="Suspended")
    b = SiteFactory(short_name="SITE-B")
    ServiceFactory(site=a, hostname="a1.example.org", scopes=[egi, local])
    ServiceFactory(site=a, hostname="a2.example.org", scopes=[egi], production=False, monitored=False)
    s = ServiceFactory(site=b, hostname="b1.example.org", scopes=[local], service_type=service_type("VOMS"))
    ServiceProperty.objects.create(parent=s, key="vo", value="biomed")
    return a, b


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["a1.example.org", "a2.example.org", "b1.example.org"]),
        ("site=SITE-A", ["a1.example.org", "a2.example.org"]),
        ("site=SITE-A&site=SITE-B", ["a1.example.org", "a2.example.org", "b1.example.org"]),
        ("country=DE", ["a1.example.org", "a2.example.org"]),
        ("service_type=VOMS", ["b1.example.org"]),
        ("production=no", ["a2.example.org"]),
        ("monitored=true", ["a1.example.org", "b1.example.org"]),
        ("certification_status=Suspended", ["a1.example.org", "a2.example.org"]),
        ("q=b1.exa", ["b1.example.org"]),
        ("scope=EGI&scope=Local", ["a1.example.org"]),
        ("scope=EGI&scope=Local&scope_match=all", ["a1.example.org"]),
        ("scope=EGI&scope=Local&scope_match=any", ["a1.example.org", "a2.example.org", "b1.example.org"]),
        ("scope=Local&scope_match=any", ["a1.example.org", "b1.example.org"]),
        ("property=vo=biomed", ["b1.example.org"]),
        ("property=vo", ["b1.example.org"]),
        ("property=vo=other", []),
    ],
)
def test_service_list_filters(client, federation, query, expected):
    assert hostnames(client.get(url("service_list") + "?" + query)) == expected


def test_service_list_filter_by_ngi(client, federation):
    a, _ = federation
    assert hostnames(client.get(url("service_list") + f"?ngi={a.ngi.name}")) == ["a1.example.org", "a2.example.org"]


@pytest.mark.parametrize(
    "query",
    [
        "site=NO-SUCH-SITE",
        "ngi=nope",
        "country=XX",
        "service_type=nope",
        "production=maybe",
        "scope=nope",
        "scope=EGI&scope_match=some",
        "certification_status=Great",
        "property==x",
    ],
)
def test_unknown_filter_values_give_400(client, federation, query):
    response = client.get(url("service_list") + "?" + query)
    assert response.status_code == 400
    assert "The filter is not valid" in response.content.decode()
    assert len(response.context["table"].rows) == 0


def select_count(client, path):
    """The number of queries of a list page and of SELECTs (subqueries included) in them."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries), sum(q["sql"].upper().count("SELECT") for q in queries)


def test_property_filters_are_one_subquery_whatever_their_number(client, federation):
    """`?property=` 60 times made one subquery each and stalled PostgreSQL: now one GROUP BY for all."""
    one = "property=k0=v"
    many = "&".join(f"property=k{i}=v" for i in range(20))
    assert select_count(client, url("service_list") + "?" + one) == select_count(
        client, url("service_list") + "?" + many
    )
    assert hostnames(client.get(url("service_list") + "?" + "&".join(["property=vo=biomed"] * 60))) == [
        "b1.example.org"
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("&".join(f"property=k{i}=v" for i in range(21)), "Too many property filters: 21 given, at most 20 allowed."),
        ("&".join(f"scope=s{i}" for i in range(51)), "Too many scope names: 51 given, at most 50 allowed."),
        ("property=vo=bio%00med", "Null characters are not allowed."),
    ],
)
def test_too_many_filter_terms_are_refused(client, federation, query, message):
    response = client.get(url("service_list") + "?" + query)
    assert response.status_code == 400 and message in response.content.decode()
    reply = client.get("/api/v1/services/?" + query)
    assert reply.status_code == 400 and message in str(reply.json())


def test_downtime_site_property_filter_is_one_subquery(client, federation):
    a, _ = federation
    DowntimeFactory(site=a, services=list(a.services.all()))
    SiteProperty.objects.create(parent=a, key="tier", value="1")
    one = url("downtime_list") + "?site_property=k0=v"
    many = one + "".join(f"&site_property=k{i}=v" for i in range(1, 20))
    assert select_count(client, one) == select_count(client, many)
    assert client.get(url("downtime_list") + "?" + "&".join(["site_property=tier=1"] * 21)).status_code == 200


def test_endpoint_list_filters(client, federation):
    a, b = federation
    EndpointFactory(service=a.services.get(hostname="a1.example.org"), name="ep-a", monitored=True)
    e = EndpointFactory(service=b.services.get(), name="ep-b")
    EndpointProperty.objects.create(parent=e, key="gpu", value="yes")

    def names(query):
        response = client.get(url("endpoint_list") + "?" + query)
        assert response.status_code == 200
        return sorted(row.record.name for row in response.context["table"].page.object_list)

    assert names("") == ["ep-a", "ep-b"]
    assert names("site=SITE-A") == ["ep-a"]
    assert names("service_type=VOMS") == ["ep-b"]
    assert names("monitored=yes") == ["ep-a"]
    assert names("property=gpu=yes") == ["ep-b"]
    assert names("q=b1.example") == ["ep-b"]
    assert client.get(url("endpoint_list") + "?site=NOPE").status_code == 400
    assert client.get(url("servicetype_list") + "?monitoring_exception=perhaps").status_code == 400


def test_service_list_csv_export(client, federation):
    response = client.get(url("service_list") + "?site=SITE-A&export=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["Host name", "Type", "Site"]
    assert [r[0] for r in rows[1:]] == ["a1.example.org", "a2.example.org"]
    assert rows[1][-1] == "EGI;Local" and rows[2][4] == "No"
    assert client.get(url("service_list") + "?site=NOPE&export=csv").status_code == 400


def test_endpoint_list_csv_export_is_plain_text(client, endpoint):
    response = client.get(url("endpoint_list") + "?export=csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["Name", "Service", "Type", "Site", "URL", "Interface", "Monitored"]
    assert rows[1] == [
        "keystone",
        "cloud.ams.example.org",
        "org.openstack.nova",
        "NL-AMS",
        endpoint.url,
        "org.openstack.nova",
        "No",
    ]


# -- query counts --------------------------------------------------------------------------------


def queries(client, target):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(target)
    assert response.status_code == 200
    return len(ctx)


def populate(site, n):
    for _ in range(n):
        service = ServiceFactory(site=site, scopes=list(Scope.objects.filter(name__in=["EGI", "Local"])))
        ServiceProperty.objects.create(parent=service, key="k", value="v")
        for _ in range(2):
            endpoint = EndpointFactory(service=service)
            EndpointProperty.objects.create(parent=endpoint, key="k", value="v")


@pytest.mark.parametrize("name", ["service_list", "endpoint_list", "servicetype_list"])
def test_list_query_count_is_fixed(client, site, django_assert_max_num_queries, name):
    client.force_login(user_with("SITE_ADMIN", site))
    populate(site, 2)
    few = queries(client, url(name))
    populate(SiteFactory(), 25)
    with django_assert_max_num_queries(few):
        client.get(url(name))
    assert queries(client, url(name) + "?export=csv") <= few


def test_service_detail_query_count_is_fixed(client, site, django_assert_max_num_queries):
    client.force_login(user_with("SITE_ADMIN", site))
    service = ServiceFactory(site=site)
    EndpointFactory(service=service)
    DowntimeFactory(service=service)
    few = queries(client, service.get_absolute_url())
    for i in range(15):
        endpoint = EndpointFactory(service=service)
        EndpointProperty.objects.create(parent=endpoint, key="k", value=str(i))
        ServiceProperty.objects.create(parent=service, key=f"k{i}", value="v")
        DowntimeFactory(service=service)
    with django_assert_max_num_queries(few):
        response = client.get(service.get_absolute_url())
    assert response.content.decode().count("/endpoints/") >= 16

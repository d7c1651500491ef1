"""Downtime pages: list (filters, CSV, query counts), detail, declare/edit/end/delete forms, history."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory
from endpoints.models import Downtime
from endpoints.tests.factories import (
    DowntimeFactory,
    EndpointFactory,
    ServiceFactory,
    ServiceGroupFactory,
    service_type,
)
from sites.models import Scope, SiteProperty
from sites.tests.factories import NGIFactory, SiteFactory, grant

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
M = timedelta(minutes=1)
LIST = reverse("endpoints:downtime_list")


@pytest.fixture
def site():
    return SiteFactory(short_name="SITE-A")


@pytest.fixture
def service(site):
    return ServiceFactory(site=site, hostname="cloud.site-a.example.org")


@pytest.fixture
def admin(site):
    user = UserFactory()
    grant(user, "SITE_ADMIN", site)
    return user


def downtime(service, start_offset=2 * H, duration=4 * H, **kwargs):
    start = timezone.now() + start_offset
    kwargs.setdefault("classification", "UNSCHEDULED")
    kwargs.setdefault("services", [service])
    return DowntimeFactory(service=service, start=start, end=start + duration, **kwargs)


def fmt(value):
    """The form's own input format (datetime-local), minutes only."""
    return value.strftime("%Y-%m-%dT%H:%M")


def add_url(site):
    return f"{reverse('endpoints:downtime_add')}?site={site.pk}"


def form_data(start, end, services=(), endpoints=(), **extra):
    data = {"severity": "OUTAGE", "description": "Disk replacement", "start": fmt(start), "end": fmt(end)}
    data["services"] = [s.pk for s in services]
    data["endpoints"] = [e.pk for e in endpoints]
    data.update(extra)
    return data


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def make_rows(n):
    for _ in range(n):
        svc = ServiceFactory()
        EndpointFactory(service=svc)
        downtime(svc, services=[svc, ServiceFactory(site=svc.site)])


# -- list ------------------------------------------------------------------------------------------------


def test_list_query_count_is_independent_of_rows(client, django_assert_max_num_queries):
    make_rows(2)
    few = count_queries(client, LIST)
    make_rows(15)
    with django_assert_max_num_queries(few):
        response = client.get(LIST)
    assert response.status_code == 200
    assert "17 results" in response.content.decode()


def test_list_shows_rows_escaped(client, service):
    downtime(service, description="<script>alert(1)</script>")
    content = client.get(LIST).content.decode()
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "cloud.site-a.example.org" in content


def test_csv_export(client, service):
    dt = downtime(service, severity="WARNING")
    response = client.get(LIST, {"export": "csv", "site": "SITE-A"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["ID", "Site", "NGI", "Severity", "Classification"]
    assert rows[1][0] == dt.primary_key
    assert rows[1][1] == "SITE-A" and rows[1][3] == "WARNING"
    assert "cloud.site-a.example.org (org.openstack.nova)" in rows[1]
    assert len(rows) == 2


def pks(client, **params):
    response = client.get(LIST, params)
    assert response.status_code == 200, response.content.decode()[:500]
    return {row.record.pk for row in response.context["table"].rows}


def test_filters(client, service, site):
    other_site = SiteFactory(short_name="SITE-B", ngi=NGIFactory(name="NGI_OTHER"))
    other = ServiceFactory(site=other_site, service_type=service_type("webdav"))
    ongoing = downtime(service, -H, 3 * H, severity="WARNING")
    future = downtime(other, 30 * H, H, classification="SCHEDULED")
    past = downtime(service, -10 * H, H)
    assert pks(client, site="SITE-A") == {ongoing.pk, past.pk}
    assert pks(client, ngi="NGI_OTHER") == {future.pk}
    assert pks(client, severity="WARNING") == {ongoing.pk}
    assert pks(client, classification="SCHEDULED") == {future.pk}
    assert pks(client, state="ongoing") == {ongoing.pk}
    assert pks(client, state="future") == {future.pk}
    assert pks(client, state="past") == {past.pk}
    assert pks(client, service_type="webdav") == {future.pk}
    assert pks(client, q="site-a.example") == {ongoing.pk, past.pk}
    after = (timezone.now() + 20 * H).strftime("%Y-%m-%dT%H:%M")
    assert pks(client, start_after=after) == {future.pk}
    before = (timezone.now() - 5 * H).strftime("%Y-%m-%dT%H:%M")
    assert pks(client, end_before=before) == {past.pk}


def test_filter_scopes_of_services_all_and_any(client, site):
    egi, local = Scope.objects.get(name="EGI"), Scope.objects.get(name="Local")
    both = downtime(ServiceFactory(site=site, scopes=[egi, local]))
    only_local = downtime(ServiceFactory(site=site, scopes=[local]))
    downtime(ServiceFactory(site=site, scopes=[egi]))
    assert pks(client, scope=["EGI", "Local"]) == {both.pk}
    assert pks(client, scope=["Local"], scope_match="any") == {both.pk, only_local.pk}


def test_filter_site_property_and_service_group(client, service):
    dt = downtime(service)
    downtime(ServiceFactory())
    SiteProperty.objects.create(parent=service.site, key="tier", value="1")
    assert pks(client, site_property="tier=1") == {dt.pk}
    assert pks(client, site_property="tier") == {dt.pk}
    group = ServiceGroupFactory(name="my_group")
    group.services.add(service)
    assert pks(client, service_group="my_group") == {dt.pk}


@pytest.mark.parametrize(
    "params",
    [
        {"severity": "MAJOR"},
        {"classification": "sometimes"},
        {"state": "soon"},
        {"start_after": "yesterday"},
        {"end_before": "2024-13-45T99:99"},
        {"site": "NO-SUCH-SITE"},
        {"scope_match": "most"},
        {"service_type": "no.such.type"},
        {"site_property": "=value"},
    ],
)
def test_invalid_filter_values_give_400(client, service, params):
    downtime(service)
    response = client.get(LIST, params)
    assert response.status_code == 400
    assert "The filter is not valid" in response.content.decode()


def test_invalid_filter_csv_is_not_exported(client, service):
    response = client.get(LIST, {"severity": "MAJOR", "export": "csv"})
    assert response.status_code == 400
    assert not response["Content-Type"].startswith("text/csv")


# -- detail ----------------------------------------------------------------------------------------------


def test_detail_shows_everything(client, service, site):
    endpoint = EndpointFactory(service=service, name="keystone")
    dt = downtime(service, description="Storage <b>migration</b>")
    dt.endpoints.add(endpoint)
    content = client.get(dt.get_absolute_url()).content.decode()
    for text in ("SITE-A", "OUTAGE", "UNSCHEDULED", "cloud.site-a.example.org", "keystone", dt.primary_key):
        assert text in content
    assert dt.start.strftime("%Y-%m-%d %H:%M:%S") in content
    assert "Storage &lt;b&gt;migration&lt;/b&gt;" in content


def test_detail_buttons_only_for_allowed_users(client, service, admin):
    dt = downtime(service)
    edit_url = reverse("endpoints:downtime_edit", args=[dt.pk])
    delete_url = reverse("endpoints:downtime_delete", args=[dt.pk])
    content = client.get(dt.get_absolute_url()).content.decode()
    assert edit_url not in content and delete_url not in content
    client.force_login(admin)
    content = client.get(dt.get_absolute_url()).content.decode()
    assert edit_url in content and delete_url in content
    assert reverse("endpoints:downtime_end", args=[dt.pk]) not in content


def test_detail_query_count_is_independent_of_links(client, site, admin, django_assert_max_num_queries):
    services = [ServiceFactory(site=site) for _ in range(2)]
    small = downtime(services[0], services=services)
    client.force_login(admin)
    few = count_queries(client, small.get_absolute_url())
    many = [ServiceFactory(site=site) for _ in range(12)]
    big = downtime(many[0], services=many)
    big.endpoints.set([EndpointFactory(service=s) for s in many])
    with django_assert_max_num_queries(few):
        assert client.get(big.get_absolute_url()).status_code == 200


def test_history_lists_changes(client, service, admin):
    client.force_login(admin)
    start = timezone.now() + 2 * H
    client.post(add_url(service.site), form_data(start, start + H, [service]))
    dt = Downtime.objects.get()
    response = client.get(reverse("endpoints:downtime_history", args=[dt.pk]))
    assert response.status_code == 200
    assert admin.username in response.content.decode()


# -- declare ---------------------------------------------------------------------------------------------


def test_site_page_offers_declare_button_to_editors(client, site, admin):
    url = add_url(site)
    assert url not in client.get(site.get_absolute_url()).content.decode().replace("&amp;", "&")
    client.force_login(admin)
    assert url in client.get(site.get_absolute_url()).content.decode()


def test_declare_form_lists_the_sites_services_and_endpoints(client, site, service, admin):
    endpoint = EndpointFactory(service=service, name="nova-api")
    foreign = ServiceFactory(hostname="elsewhere.example.org")
    client.force_login(admin)
    content = client.get(add_url(site)).content.decode()
    assert f'name="services" value="{service.pk}"' in content
    assert f'name="endpoints" value="{endpoint.pk}"' in content
    assert "nova-api" in content
    assert foreign.hostname not in content


def test_declare_form_access(client, site, service):
    url = add_url(site)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    stranger = UserFactory()
    grant(stranger, "SITE_ADMIN", SiteFactory())
    client.force_login(stranger)
    assert client.get(url).status_code == 403
    assert client.post(url, form_data(timezone.now() + H, timezone.now() + 2 * H, [service])).status_code == 403
    assert not Downtime.objects.exists()
    manager = UserFactory()
    grant(manager, "NGI_OPS_DEP_MAN", site.ngi)
    client.force_login(manager)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("query", ["", "?site=", "?site=abc", "?site=999999"])
def test_declare_needs_a_site(client, admin, query):
    client.force_login(admin)
    assert client.get(reverse("endpoints:downtime_add") + query).status_code == 404


def test_declare_with_endpoint_adds_service(client, site, service, admin):
    endpoint = EndpointFactory(service=service)
    client.force_login(admin)
    start = timezone.now() + 30 * H
    response = client.post(add_url(site), form_data(start, start + 2 * H, endpoints=[endpoint]))
    dt = Downtime.objects.get()
    assert response.status_code == 302 and response["Location"] == dt.get_absolute_url()
    assert list(dt.services.all()) == [service] and list(dt.endpoints.all()) == [endpoint]
    assert dt.classification == "SCHEDULED" and dt.site == site
    assert AuditLog.objects.filter(object_id=dt.pk, action="create").count() == 1


def test_declare_accepts_gocdb_date_format(client, site, service, admin):
    client.force_login(admin)
    start = (timezone.now() + 3 * H).replace(second=0, microsecond=0)
    data = form_data(start, start + H, [service])
    data["start"], data["end"] = start.strftime("%d/%m/%Y %H:%M"), (start + H).strftime("%d/%m/%Y %H:%M")
    assert client.post(add_url(site), data).status_code == 302
    assert Downtime.objects.get().start == start


@pytest.mark.parametrize(
    "change,message",
    [
        ({"start": "31/02/2030 10:00"}, "Enter a date and time in UTC"),
        ({"end": "tomorrow"}, "Enter a date and time in UTC"),
        ({"start": ""}, "This field is required."),
        ({"severity": "MAJOR"}, "Select a valid choice"),
        ({"description": "x" * 5000}, "at most 4000 characters"),
        ({"description": "<script>alert(1)</script>"}, "are not allowed"),
        ({"services": []}, "A downtime must affect at least one service"),
        ({"services": ["abc"]}, "is not a valid value"),
    ],
)
def test_declare_bad_input_saves_nothing(client, site, service, admin, change, message):
    client.force_login(admin)
    start = timezone.now() + 2 * H
    data = {**form_data(start, start + H, [service]), **change}
    response = client.post(add_url(site), data)
    content = response.content.decode()
    assert response.status_code == 400
    assert message in content.replace("&#x27;", "'")
    assert "<script>alert(1)</script>" not in content
    assert not Downtime.objects.exists() and not AuditLog.objects.exists()


def test_declare_script_is_echoed_escaped(client, site, service, admin):
    client.force_login(admin)
    start = timezone.now() + 2 * H
    content = client.post(
        add_url(site), form_data(start, start + H, [service], description="<script>alert(1)</script>")
    ).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


def test_declare_rule_messages_on_the_form(client, site, service, admin):
    client.force_login(admin)
    start = timezone.now() + 2 * H
    response = client.post(add_url(site), form_data(start, start - H, [service]))
    assert response.status_code == 400
    assert "A downtime cannot start after it&#x27;s ended." in response.content.decode()
    old = timezone.now() - 49 * H
    response = client.post(add_url(site), form_data(old, old + 10 * H, [service]))
    assert "must be within the last 48 hrs" in response.content.decode()
    assert not Downtime.objects.exists()


def test_declare_services_of_two_sites_refused(client, site, service, admin):
    other = ServiceFactory()
    grant(admin, "SITE_ADMIN", other.site)
    client.force_login(admin)
    start = timezone.now() + 2 * H
    response = client.post(add_url(site), form_data(start, start + H, [service, other]))
    assert response.status_code == 400
    assert "Downtime creation for multiple sites not supported yet" in response.content.decode()
    assert not Downtime.objects.exists()


def test_declare_other_sites_service_without_permission_is_403(client, site, service, admin):
    other = ServiceFactory()
    client.force_login(admin)
    start = timezone.now() + 2 * H
    assert client.post(add_url(site), form_data(start, start + H, [other])).status_code == 403
    assert not Downtime.objects.exists()


# -- edit ------------------------------------------------------------------------------------------------


def edit_url(dt):
    return reverse("endpoints:downtime_edit", args=[dt.pk])


def test_edit_form_prefills(client, service, admin):
    dt = downtime(service)
    client.force_login(admin)
    content = client.get(edit_url(dt)).content.decode()
    assert fmt(dt.start) in content
    assert f'value="{service.pk}" id="service-{service.pk}" checked' in content


def test_edit_shorten_keeps_untouched_start(client, service, admin):
    dt = downtime(service, -H, 5 * H)
    client.force_login(admin)
    new_end = (timezone.now() + H).replace(second=0, microsecond=0)
    response = client.post(edit_url(dt), form_data(dt.start, new_end, [service]))
    assert response.status_code == 302
    dt_after = Downtime.objects.get(pk=dt.pk)
    assert dt_after.start == dt.start  # seconds kept although the form shows minutes
    assert dt_after.end == new_end


def test_edit_extension_refused_with_message(client, service, admin):
    dt = downtime(service, 2 * H, 2 * H)
    client.force_login(admin)
    response = client.post(edit_url(dt), form_data(dt.start, dt.end + H, [service]))
    assert response.status_code == 400
    assert "Downtimes can&#x27;t be extended - please add a new downtime." in response.content.decode()
    assert Downtime.objects.get(pk=dt.pk).end == dt.end


def test_edit_of_ended_downtime_says_why(client, service, admin):
    dt = downtime(service, -5 * H, H)
    client.force_login(admin)
    response = client.get(edit_url(dt))
    assert "Can&#x27;t edit a downtime that has already finished." in response.content.decode()
    response = client.post(edit_url(dt), form_data(dt.start, dt.end, [service], description="Late"))
    assert response.status_code == 400
    assert Downtime.objects.get(pk=dt.pk).description == "Planned maintenance"


# -- end and delete --------------------------------------------------------------------------------------


def test_end_now(client, service, admin):
    dt = downtime(service, -H, 10 * H)
    url = reverse("endpoints:downtime_end", args=[dt.pk])
    assert client.post(url).status_code == 302  # to login
    assert Downtime.objects.get(pk=dt.pk).end == dt.end
    client.force_login(admin)
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 302
    assert Downtime.objects.get(pk=dt.pk).end <= timezone.now() + M
    assert AuditLog.objects.filter(object_id=dt.pk, action="downtime_end").exists()


def test_end_future_refused(client, service, admin):
    dt = downtime(service, H, H)
    client.force_login(admin)
    response = client.post(reverse("endpoints:downtime_end", args=[dt.pk]))
    assert response.status_code == 400
    assert "Downtime isn&#x27;t on-going." in response.content.decode()


def test_end_by_stranger_is_403(client, service):
    dt = downtime(service, -H, 10 * H)
    stranger = UserFactory()
    grant(stranger, "SITE_ADMIN", SiteFactory())
    client.force_login(stranger)
    url = reverse("endpoints:downtime_end", args=[dt.pk])
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    assert Downtime.objects.get(pk=dt.pk).end == dt.end


def test_delete(client, service, admin, site):
    dt = downtime(service, 2 * H)
    url = reverse("endpoints:downtime_delete", args=[dt.pk])
    client.force_login(admin)
    assert client.get(url).status_code == 200
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == site.get_absolute_url()
    assert not Downtime.objects.exists()


def test_delete_started_refused(client, service, admin):
    dt = downtime(service, -H)
    client.force_login(admin)
    response = client.post(reverse("endpoints:downtime_delete", args=[dt.pk]))
    assert response.status_code == 400
    assert "This downtime has already started." in response.content.decode()
    assert Downtime.objects.exists()

"""Each default of the write path gives the same row whichever entry point writes it: the browser
form, the REST API and (where it writes that model) the GOCDB write API."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from egiportal.api.testcases import api
from egiportal.models import AuditLog
from egiportal.testcases import form_data
from endpoints import services
from endpoints.models import Downtime, EndpointLocation, Service
from endpoints.tests.factories import EndpointFactory, ServiceFactory, ServiceGroupFactory, service_type
from sites.models import APICredential, Scope
from sites.tests.factories import SiteFactory, api_credential, egi_scope, user_with

pytestmark = pytest.mark.django_db


def endpoint_row(endpoint):
    return (endpoint.monitored, endpoint.interface_name, endpoint.url)


@pytest.mark.parametrize("monitored", [True, False])
def test_a_new_endpoint_follows_its_services_monitoring_everywhere(client, monitored):
    service = ServiceFactory(production=False, monitored=monitored)
    admin = user_with("SITE_ADMIN", service.site)
    client.force_login(admin)
    url = "https://e.example.org/"

    # Browser: the form starts at the default, and the user posts what it shows.
    form = client.get(reverse("endpoints:endpoint_add") + f"?service={service.pk}").context["form"]
    body = {"service": service.pk, "name": "browser", "url": url}
    if form.initial["monitored"]:
        body["monitored"] = "on"
    assert client.post(reverse("endpoints:endpoint_add"), body).status_code == 302
    # REST: monitoring not given.
    reply = api(client, "POST", "/api/v1/endpoints/", {"service": service.pk, "name": "rest", "endpoint_url": url})
    assert reply.status_code == 201, reply.content
    # The GOCDB write API: monitoring not given.
    _, secret = api_credential(service.site, admin, kind=APICredential.Kind.TOKEN, allow_write=True)
    written = client.generic(
        "POST",
        f"/gocdbpi/v5/service/{service.pk}/endpoint",
        data=json.dumps({"name": "write-api", "url": url}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert written.status_code == 204, written.content

    rows = {e.name: endpoint_row(e) for e in EndpointLocation.objects.filter(service=service)}
    assert rows == dict.fromkeys(["browser", "rest", "write-api"], (monitored, service.service_type.name, url))


def test_a_new_service_takes_its_sites_scopes_in_the_browser_and_the_api(client):
    site = SiteFactory()
    site.scopes.set([Scope.objects.get(name="EGI"), Scope.objects.get_or_create(name="Local")[0]])
    client.force_login(user_with("SITE_ADMIN", site))
    add = reverse("endpoints:service_add")
    form = client.get(add + f"?site={site.pk}").context["form"]
    body = {
        "site": site.pk,
        "service_type": service_type().pk,
        "hostname": "browser.example.org",
        "description": "x",
        "scopes": [s.pk for s in form.initial["scopes"]],
    }
    assert client.post(add, body).status_code == 302
    rest = {"site": site.pk, "service_type": service_type().name, "hostname": "rest.example.org", "description": "x"}
    assert api(client, "POST", "/api/v1/services/", rest).status_code == 201

    scopes = {s.hostname: sorted(x.name for x in s.scopes.all()) for s in Service.objects.filter(site=site)}
    assert scopes == {"browser.example.org": ["EGI", "Local"], "rest.example.org": ["EGI", "Local"]}


def test_an_edited_downtime_drops_the_endpoints_of_services_that_leave_it(client):
    site = SiteFactory()
    admin = user_with("SITE_ADMIN", site)
    kept, dropped = ServiceFactory(site=site), ServiceFactory(site=site)
    kept_end, dropped_end = EndpointFactory(service=kept), EndpointFactory(service=dropped)
    start = timezone.now() + timedelta(days=3)

    def declared():
        downtime = Downtime(severity="OUTAGE", description="Upgrade", start=start, end=start + timedelta(hours=2))
        return services.save_downtime(admin, downtime, services=[kept, dropped], endpoints=[kept_end, dropped_end])

    in_browser, through_api = declared(), declared()
    client.force_login(admin)
    # The browser: the form as shown, with the service unticked (the tree unticks its endpoints with it; a
    # ticked endpoint would bring its service back).
    edit = reverse("endpoints:downtime_edit", args=[in_browser.pk])
    body = {**form_data(client.get(edit).context["form"]), "services": [kept.pk], "endpoints": [kept_end.pk]}
    assert client.post(edit, body).status_code == 302
    # REST names only the services: the service prunes the endpoints of those that left.
    reply = api(client, "PATCH", f"/api/v1/downtimes/{through_api.pk}/", {"services": [kept.pk]})
    assert reply.status_code == 200, reply.content

    for downtime in (in_browser, through_api):
        assert list(downtime.services.all()) == [kept] and list(downtime.endpoints.all()) == [kept_end]


def test_service_group_membership_is_the_same_diff_in_the_browser_and_the_api(client):
    stay, leave, join = ServiceFactory(), ServiceFactory(), ServiceFactory()
    groups = [ServiceGroupFactory(), ServiceGroupFactory()]
    for group in groups:
        group.services.set([stay, leave])
        group.scopes.set([egi_scope()])
    in_browser, through_api = groups
    client.force_login(user_with("SERVICE_GROUP_ADMIN", in_browser))
    page = reverse("endpoints:servicegroup_services", args=[in_browser.pk])
    assert client.post(page, {"add": [join.pk], "remove": [leave.pk]}).status_code == 302
    client.force_login(user_with("SERVICE_GROUP_ADMIN", through_api))
    reply = api(client, "PATCH", f"/api/v1/service-groups/{through_api.pk}/", {"services": [stay.pk, join.pk]})
    assert reply.status_code == 200, reply.content

    for group in groups:
        assert set(group.services.all()) == {stay, join}
        entry = AuditLog.objects.filter(object_id=group.pk, message="Services changed").get()
        before, after = entry.before, entry.after
        assert (before["services"] != after["services"]) and len(after["services"]) == 2

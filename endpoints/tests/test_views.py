"""The generic browser-view tests (egiportal.testcases.ViewModelTests) for every routed page of the
endpoints app: who reads and who changes services, endpoint locations, service types, downtimes and
service groups, and fixed query counts."""

from datetime import timedelta

from django.utils import timezone

from egiportal.testcases import AddCase, ViewModelTests
from egiportal.tests.factories import UserFactory
from endpoints.models import Downtime, EndpointLocation, Service, ServiceGroup, ServiceType
from endpoints.tests.factories import (
    DowntimeFactory,
    EndpointFactory,
    ServiceFactory,
    ServiceGroupFactory,
    service_type,
)
from endpoints.tests.test_downtime_views import form_data as downtime_data
from endpoints.tests.test_service_views import endpoint_data, service_data
from endpoints.tests.test_servicegroups import form as group_data
from sites.tests.factories import SiteFactory, egi_scope, user_with


class SiteOwned:
    """Objects of a site: its admin may change them, another site's admin may not."""

    def site_of(self, obj):
        return obj.site

    def allowed_user(self, obj):
        return user_with("SITE_ADMIN", self.site_of(obj))

    def other_owner(self, obj):
        return user_with("SITE_ADMIN", SiteFactory())


class TestServiceViews(SiteOwned, ViewModelTests):
    model = Service
    factory = ServiceFactory
    list_url, detail_url, history_url = "endpoints:service_list", "endpoints:service", "endpoints:service_history"
    add_url, edit_url, delete_url = "endpoints:service_add", "endpoints:service_edit", "endpoints:service_delete"
    edit_changes = {"description": "Changed description"}

    def add_case(self):
        site = SiteFactory()
        data = service_data(site, scopes=[egi_scope().pk])
        admin, other = user_with("SITE_ADMIN", site), user_with("SITE_ADMIN", SiteFactory())
        return AddCase(data, admin, params={"site": site.pk}, other_owner=other)


class TestEndpointViews(SiteOwned, ViewModelTests):
    model = EndpointLocation
    factory = EndpointFactory
    list_url, detail_url, history_url = "endpoints:endpoint_list", "endpoints:endpoint", "endpoints:endpoint_history"
    add_url, edit_url, delete_url = "endpoints:endpoint_add", "endpoints:endpoint_edit", "endpoints:endpoint_delete"
    edit_changes = {"description": "Changed description"}

    def site_of(self, obj):
        return obj.service.site

    def add_case(self):
        service = ServiceFactory()
        admin, other = user_with("SITE_ADMIN", service.site), user_with("SITE_ADMIN", SiteFactory())
        return AddCase(endpoint_data(service), admin, params={"service": service.pk}, other_owner=other)


class TestServiceTypeViews(ViewModelTests):
    model = ServiceType
    list_url, detail_url = "endpoints:servicetype_list", "endpoints:servicetype"

    def make(self):
        return service_type(f"org.example.type{ServiceType.objects.count()}")


class TestDowntimeViews(SiteOwned, ViewModelTests):
    model = Downtime
    factory = DowntimeFactory
    list_url, detail_url, history_url = "endpoints:downtime_list", "endpoints:downtime", "endpoints:downtime_history"
    add_url, edit_url, delete_url = "endpoints:downtime_add", "endpoints:downtime_edit", "endpoints:downtime_delete"
    edit_changes = {"description": "Changed description"}

    def add_case(self):
        service = ServiceFactory()
        start = timezone.now() + timedelta(days=2)
        data = downtime_data(start, start + timedelta(hours=4), services=[service])
        admin, other = user_with("SITE_ADMIN", service.site), user_with("SITE_ADMIN", SiteFactory())
        return AddCase(data, admin, params={"site": service.site.pk}, other_owner=other)


class TestServiceGroupViews(ViewModelTests):
    model = ServiceGroup
    list_url, detail_url = "endpoints:servicegroup_list", "endpoints:servicegroup"
    history_url = "endpoints:servicegroup_history"
    add_url, edit_url = "endpoints:servicegroup_add", "endpoints:servicegroup_edit"
    delete_url = "endpoints:servicegroup_delete"
    add_needs_role = False  # any registered user creates a group and becomes its administrator
    edit_changes = {"description": "Changed description"}

    def make(self):
        group = ServiceGroupFactory()
        group.scopes.set([egi_scope()])  # a group needs a non-reserved scope to be saved from its form
        return group

    def allowed_user(self, obj):
        return user_with("SERVICE_GROUP_ADMIN", obj)

    def other_owner(self, obj):
        return user_with("SERVICE_GROUP_ADMIN", ServiceGroupFactory())

    def add_case(self):
        return AddCase(group_data(scopes=[egi_scope().pk]), UserFactory())

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch
from django.urls import reverse
from django_tables2 import RequestConfig

from egiportal.views import (
    ObjectDeleteView,
    ObjectDetailView,
    ObjectFormView,
    ObjectHistoryView,
    ObjectListView,
    PropertiesView,
    PropertyDeleteView,
)
from sites.choices import Action
from sites.models import Site
from sites.roles import authorise

from . import services
from .filtersets import EndpointLocationFilterSet, ServiceFilterSet, ServiceTypeFilterSet
from .forms import EndpointLocationForm, ServiceForm
from .models import EndpointLocation, Service, ServiceType
from .tables import EndpointLocationTable, ServiceTable, ServiceTypeTable

# -- services, endpoint locations, service types --

SERVICE_LIST_QS = Service.objects.select_related("site", "site__ngi", "service_type").prefetch_related("scopes")
ENDPOINT_LIST_QS = EndpointLocation.objects.select_related("service", "service__site", "service__service_type")


def _param_object(request, name, queryset):
    """The object named by ?<name>=<pk> (GET or POST), or None when absent or malformed."""
    value = request.POST.get(name) or request.GET.get(name)
    if not value or not str(value).isdigit():
        return None
    return queryset.filter(pk=int(value)).first()


class ServiceListView(ObjectListView):
    queryset = SERVICE_LIST_QS
    filterset_class = ServiceFilterSet
    table_class = ServiceTable

    @property
    def add_url(self):
        return reverse("endpoints:service_add")


class ServiceView(ObjectDetailView):
    queryset = Service.objects.select_related("site", "site__ngi", "service_type").prefetch_related(
        "scopes", "properties", Prefetch("endpoints", queryset=EndpointLocation.objects.prefetch_related("properties"))
    )
    template_name = "endpoints/service.html"

    def get_extra_context(self, request, obj):
        return {
            "downtimes": obj.downtimes.order_by("-start", "-id")[:20],
            "can_edit": authorise(request.user, Action.EDIT_OBJECT, obj),
        }


class ServiceHistoryView(ObjectHistoryView):
    queryset = Service.objects.all()


class ServicePropertiesView(PropertiesView):
    queryset = Service.objects.select_related("service_type")


class ServicePropertyDeleteView(PropertyDeleteView):
    queryset = Service.objects.select_related("service_type")


class ServiceFormView(ObjectFormView):
    queryset = Service.objects.select_related("site", "service_type")
    form_class = ServiceForm

    def check_permission(self, request, obj):
        if obj.pk is not None:
            if not authorise(request.user, Action.EDIT_OBJECT, obj):
                raise PermissionDenied(f"You may not edit service {obj}: you need a role on site {obj.site}.")
            return
        site = _param_object(request, "site", Site.objects.all())
        if site is not None and not authorise(request.user, Action.SITE_ADD_SERVICE, site):
            raise PermissionDenied(f"You may not add services to site {site}: you need a role on the site or its NGI.")
        if not Site.objects.visible_to(request.user, Action.SITE_ADD_SERVICE).exists():
            raise PermissionDenied("You hold no site or NGI role that allows adding a service.")


class ServiceDeleteView(ObjectDeleteView):
    queryset = Service.objects.select_related("site", "service_type")
    delete_service = services.delete_service

    def check_permission(self, request, obj):
        if not authorise(request.user, Action.EDIT_OBJECT, obj):
            raise PermissionDenied(f"You may not delete service {obj}: you need a role on its site.")

    def success_url(self, obj):
        return obj.site.get_absolute_url()


class EndpointListView(ObjectListView):
    queryset = ENDPOINT_LIST_QS
    filterset_class = EndpointLocationFilterSet
    table_class = EndpointLocationTable


class EndpointView(ObjectDetailView):
    queryset = ENDPOINT_LIST_QS.prefetch_related("properties")
    template_name = "endpoints/endpoint.html"

    def get_extra_context(self, request, obj):
        return {
            "downtimes": obj.downtimes.order_by("-start", "-id")[:20],
            "can_edit": authorise(request.user, Action.EDIT_OBJECT, obj),
        }


class EndpointHistoryView(ObjectHistoryView):
    queryset = EndpointLocation.objects.all()


class EndpointPropertiesView(PropertiesView):
    queryset = EndpointLocation.objects.select_related("service__service_type")


class EndpointPropertyDeleteView(PropertyDeleteView):
    queryset = EndpointLocation.objects.select_related("service__service_type")


class EndpointFormView(ObjectFormView):
    queryset = ENDPOINT_LIST_QS
    form_class = EndpointLocationForm

    def check_permission(self, request, obj):
        if obj.pk is not None:
            if not authorise(request.user, Action.EDIT_OBJECT, obj):
                raise PermissionDenied(f"You may not edit endpoint {obj}: you need a role on site {obj.service.site}.")
            return
        service = _param_object(request, "service", Service.objects.select_related("site", "service_type"))
        if service is not None and not authorise(request.user, Action.EDIT_OBJECT, service):
            raise PermissionDenied(f"You may not add endpoints to service {service}: you need a role on its site.")
        if not Service.objects.visible_to(request.user, Action.EDIT_OBJECT).exists():
            raise PermissionDenied("You may edit no service, so you cannot add an endpoint.")


class EndpointDeleteView(ObjectDeleteView):
    queryset = ENDPOINT_LIST_QS
    delete_service = services.delete_endpoint

    def check_permission(self, request, obj):
        if not authorise(request.user, Action.EDIT_OBJECT, obj):
            raise PermissionDenied(f"You may not delete endpoint {obj}: you need a role on its site.")

    def success_url(self, obj):
        return obj.service.get_absolute_url()


class ServiceTypeListView(ObjectListView):
    queryset = ServiceType.objects.annotate(service_count=Count("services"))
    filterset_class = ServiceTypeFilterSet
    table_class = ServiceTypeTable


class ServiceTypeView(ObjectDetailView):
    queryset = ServiceType.objects.all()
    template_name = "endpoints/servicetype.html"

    def get_extra_context(self, request, obj):
        table = ServiceTable(SERVICE_LIST_QS.filter(service_type=obj), request=request)
        RequestConfig(request, paginate={"per_page": 50}).configure(table)
        return {"table": table}


# -- end services --

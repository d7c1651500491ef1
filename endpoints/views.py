from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from egiportal import permissions
from egiportal.views import (
    ObjectDeleteView,
    ObjectDetailView,
    ObjectFormView,
    ObjectHistoryView,
    ObjectListView,
    PropertiesView,
    PropertyDeleteView,
    _add_errors,
    configure_table,
)
from sites.choices import Action
from sites.models import Site

from . import services
from .filtersets import (
    DowntimeFilterSet,
    EndpointLocationFilterSet,
    ServiceFilterSet,
    ServiceGroupFilterSet,
    ServiceTypeFilterSet,
)
from .forms import DowntimeForm, EndpointLocationForm, GroupServicesForm, ServiceForm, ServiceGroupForm
from .models import Downtime, EndpointLocation, Service, ServiceGroup, ServiceType
from .tables import (
    DowntimeTable,
    EndpointLocationTable,
    ServiceGroupTable,
    ServiceTable,
    ServiceTypeTable,
    downtime_state,
)

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
            "can_edit": permissions.authorise(request.user, Action.EDIT_OBJECT, obj),
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
            if not permissions.authorise(request.user, Action.EDIT_OBJECT, obj):
                raise PermissionDenied(f"You may not edit service {obj}: you need a role on site {obj.site}.")
            return
        site = _param_object(request, "site", Site.objects.all())
        if site is not None and not permissions.authorise(request.user, Action.SITE_ADD_SERVICE, site):
            raise PermissionDenied(f"You may not add services to site {site}: you need a role on the site or its NGI.")
        if not Site.objects.visible_to(request.user, Action.SITE_ADD_SERVICE).exists():
            raise PermissionDenied("You hold no site or NGI role that allows adding a service.")


class ServiceDeleteView(ObjectDeleteView):
    queryset = Service.objects.select_related("site", "service_type")
    delete_service = services.delete_service

    def check_permission(self, request, obj):
        if not permissions.authorise(request.user, Action.EDIT_OBJECT, obj):
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
            "can_edit": permissions.authorise(request.user, Action.EDIT_OBJECT, obj),
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
            if not permissions.authorise(request.user, Action.EDIT_OBJECT, obj):
                raise PermissionDenied(f"You may not edit endpoint {obj}: you need a role on site {obj.service.site}.")
            return
        service = _param_object(request, "service", Service.objects.select_related("site", "service_type"))
        if service is not None and not permissions.authorise(request.user, Action.EDIT_OBJECT, service):
            raise PermissionDenied(f"You may not add endpoints to service {service}: you need a role on its site.")
        if not Service.objects.visible_to(request.user, Action.EDIT_OBJECT).exists():
            raise PermissionDenied("You may edit no service, so you cannot add an endpoint.")


class EndpointDeleteView(ObjectDeleteView):
    queryset = ENDPOINT_LIST_QS
    delete_service = services.delete_endpoint

    def check_permission(self, request, obj):
        if not permissions.authorise(request.user, Action.EDIT_OBJECT, obj):
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
        return {"table": configure_table(request, ServiceTable(SERVICE_LIST_QS.filter(service_type=obj)))}


# -- end services --


SERVICES_WITH_TYPE = Service.objects.select_related("service_type")
DOWNTIME_LIST_QS = Downtime.objects.select_related("site", "site__ngi").prefetch_related(
    Prefetch("services", queryset=SERVICES_WITH_TYPE)
)


def site_services(site):
    """The services of `site` with their endpoints, for the checkbox tree of the downtime form."""
    return (
        Service.objects.filter(site=site)
        .select_related("service_type")
        .prefetch_related(Prefetch("endpoints", queryset=EndpointLocation.objects.order_by("name")))
    )


# -- downtimes ----------------------------------------------------------------------------------------


class DowntimeListView(ObjectListView):
    queryset = DOWNTIME_LIST_QS
    filterset_class = DowntimeFilterSet
    table_class = DowntimeTable


class DowntimeView(ObjectDetailView):
    queryset = Downtime.objects.select_related("site", "site__ngi").prefetch_related(
        Prefetch("services", queryset=SERVICES_WITH_TYPE),
        Prefetch("endpoints", queryset=EndpointLocation.objects.select_related("service")),
    )
    template_name = "endpoints/downtime.html"

    def get_extra_context(self, request, obj):
        can_edit_site = permissions.authorise(request.user, Action.EDIT_OBJECT, obj.site)
        return {
            "allowed": services.allowed_downtime_actions(obj, can_edit_site),
            "state": downtime_state(obj),
        }


class DowntimeFormView(ObjectFormView):
    """Declare (from a site page, ?site=<pk>) or edit a downtime of that site's services."""

    queryset = Downtime.objects.select_related("site")
    form_class = DowntimeForm
    template_name = "endpoints/downtime_edit.html"

    def get_object(self, request, pk):
        if pk is not None:
            return super().get_object(request, pk)
        site_id = request.GET.get("site", "")
        if not site_id.isdigit():
            raise Http404("Declare a downtime from the page of its site.")
        return Downtime(site=get_object_or_404(Site, pk=site_id))

    def check_permission(self, request, obj):
        if not permissions.authorise(request.user, Action.EDIT_OBJECT, obj.site):
            raise PermissionDenied(
                f"You do not have permission over {obj.site}: a role on the site or its NGI is needed."
            )

    def get(self, request, pk=None):
        obj = self.get_object(request, pk)
        self.check_permission(request, obj)
        return self.render_form(request, self.form_class(**self.form_kwargs(request, obj)), obj)

    def form_kwargs(self, request, obj):
        return {**super().form_kwargs(request, obj), "site": obj.site}

    def render_form(self, request, form, obj, status=200):
        context = {"form": form, "object": obj, "site": obj.site, "services": site_services(obj.site)}
        context["selected_services"] = form.selected("services")
        context["selected_endpoints"] = form.selected("endpoints")
        context["locked"] = _edit_refusal(obj)
        return render(request, self.template_name, context, status=status)


def _edit_refusal(obj):
    """Why a stored downtime can no longer be edited, shown above the form (the service enforces it)."""
    if not obj.pk:
        return ""
    try:
        services.check_editable(obj)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return ""


class DowntimeHistoryView(ObjectHistoryView):
    queryset = Downtime.objects.all()


class DowntimeEndView(LoginRequiredMixin, View):
    """Confirm, then end an ongoing downtime a minute from now."""

    template_name = "endpoints/downtime_end.html"

    def get(self, request, pk):
        obj = get_object_or_404(Downtime.objects.select_related("site"), pk=pk)
        if not permissions.authorise(request.user, Action.EDIT_OBJECT, obj.site):
            raise PermissionDenied(f"You do not have permission over {obj.site}.")
        return render(request, self.template_name, {"object": obj})

    def post(self, request, pk):
        obj = get_object_or_404(Downtime.objects.select_related("site"), pk=pk)
        try:
            services.end_downtime(request.user, obj)
        except ValidationError as exc:
            return render(request, self.template_name, {"object": obj, "errors": exc.messages}, status=400)
        return redirect(obj.get_absolute_url())


class DowntimeDeleteView(ObjectDeleteView):
    queryset = Downtime.objects.select_related("site")
    delete_service = services.delete_downtime
    # Not the generic template: it renders {{ model }}, which calls Downtime() (a site-less downtime).
    template_name = "endpoints/downtime_delete.html"

    def get(self, request, pk):
        obj = self.get_object(request, pk)
        if not permissions.authorise(request.user, Action.EDIT_OBJECT, obj.site):
            raise PermissionDenied(f"You do not have permission over {obj.site}.")
        return super().get(request, pk)

    def success_url(self, obj):
        return obj.site.get_absolute_url()


# -- service groups ---------------------------------------------------------------------------------------


class ServiceGroupListView(ObjectListView):
    queryset = ServiceGroup.objects.prefetch_related("scopes").annotate(service_count=Count("services"))
    filterset_class = ServiceGroupFilterSet
    table_class = ServiceGroupTable

    @property
    def add_url(self):
        return reverse("endpoints:servicegroup_add")


class ServiceGroupView(ObjectDetailView):
    queryset = ServiceGroup.objects.prefetch_related("scopes", "properties")
    template_name = "endpoints/servicegroup.html"

    def get_extra_context(self, request, obj):
        members = obj.services.select_related("site", "service_type").prefetch_related("scopes").order_by("hostname")
        return {"members": members, "can_edit": permissions.authorise(request.user, Action.EDIT_OBJECT, obj)}


class ServiceGroupFormView(ObjectFormView):
    queryset = ServiceGroup.objects.all()
    form_class = ServiceGroupForm

    def check_permission(self, request, obj):
        if obj.pk and not permissions.authorise(request.user, Action.EDIT_OBJECT, obj):
            raise PermissionDenied(f"You may not edit service group {obj}: you are not one of its administrators.")


class ServiceGroupHistoryView(ObjectHistoryView):
    queryset = ServiceGroup.objects.all()


class ServiceGroupPropertiesView(PropertiesView):
    queryset = ServiceGroup.objects.all()


class ServiceGroupPropertyDeleteView(PropertyDeleteView):
    queryset = ServiceGroup.objects.all()


class ServiceGroupDeleteView(ObjectDeleteView):
    queryset = ServiceGroup.objects.all()
    delete_service = services.delete_service_group

    def get(self, request, pk):
        obj = self.get_object(request, pk)
        if not permissions.authorise(request.user, Action.EDIT_OBJECT, obj):
            raise PermissionDenied(f"You may not delete service group {obj}.")
        return super().get(request, pk)

    def success_url(self, obj):
        return reverse("endpoints:servicegroup_list")


class ServiceGroupServicesView(LoginRequiredMixin, View):
    """Remove member services, or search services of any site (?q=) and add them."""

    template_name = "endpoints/servicegroup_services.html"
    max_candidates = 50

    def group(self, request, pk):
        group = get_object_or_404(ServiceGroup, pk=pk)
        if not permissions.authorise(request.user, Action.EDIT_OBJECT, group):
            raise PermissionDenied(f"You may not change the services of service group {group}.")
        return group

    def get(self, request, pk):
        return self.render_page(request, self.group(request, pk), GroupServicesForm())

    def post(self, request, pk):
        group = self.group(request, pk)
        form = GroupServicesForm(request.POST, instance=group, actor=request.user)
        if form.is_valid():
            try:
                form.save_with(request.user)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                return redirect(reverse("endpoints:servicegroup_services", args=[group.pk]))
        return self.render_page(request, group, form, status=400)

    def render_page(self, request, group, form, status=200):
        members = group.services.select_related("site", "service_type").order_by("hostname")
        query = request.GET.get("q", "").strip()[:255]
        candidates = []
        if query:
            candidates = (
                SERVICES_WITH_TYPE.select_related("site")
                .filter(hostname__icontains=query)
                .exclude(service_groups=group)
                .order_by("hostname")[: self.max_candidates]
            )
        context = {"object": group, "form": form, "members": members, "q": query, "candidates": candidates}
        return render(request, self.template_name, context, status=status)

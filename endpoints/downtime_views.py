"""Pages of downtimes and service groups. Views parse input, call endpoints.downtimes, render."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from egiportal.views import (
    ObjectDeleteView,
    ObjectDetailView,
    ObjectFormView,
    ObjectHistoryView,
    ObjectListView,
    PropertiesView,
    PropertyDeleteView,
    _add_errors,
)
from sites.choices import Action
from sites.models import Site
from sites.roles import authorise

from . import downtimes
from .downtime_filtersets import DowntimeFilterSet, ServiceGroupFilterSet
from .downtime_forms import DowntimeForm, GroupServicesForm, ServiceGroupForm
from .downtime_tables import DowntimeTable, ServiceGroupTable, downtime_state
from .models import Downtime, EndpointLocation, Service, ServiceGroup

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
        can_edit_site = authorise(request.user, Action.EDIT_OBJECT, obj.site)
        return {
            "allowed": downtimes.allowed_downtime_actions(obj, can_edit_site),
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
        if not authorise(request.user, Action.EDIT_OBJECT, obj.site):
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
        downtimes.check_editable(obj)
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
        if not authorise(request.user, Action.EDIT_OBJECT, obj.site):
            raise PermissionDenied(f"You do not have permission over {obj.site}.")
        return render(request, self.template_name, {"object": obj})

    def post(self, request, pk):
        obj = get_object_or_404(Downtime.objects.select_related("site"), pk=pk)
        try:
            downtimes.end_downtime(request.user, obj)
        except ValidationError as exc:
            return render(request, self.template_name, {"object": obj, "errors": exc.messages}, status=400)
        return redirect(obj.get_absolute_url())


class DowntimeDeleteView(ObjectDeleteView):
    queryset = Downtime.objects.select_related("site")
    delete_service = downtimes.delete_downtime
    # Not the generic template: it renders {{ model }}, which calls Downtime() (a site-less downtime).
    template_name = "endpoints/downtime_delete.html"

    def get(self, request, pk):
        obj = self.get_object(request, pk)
        if not authorise(request.user, Action.EDIT_OBJECT, obj.site):
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
        return {"members": members, "can_edit": authorise(request.user, Action.EDIT_OBJECT, obj)}


class ServiceGroupFormView(ObjectFormView):
    queryset = ServiceGroup.objects.all()
    form_class = ServiceGroupForm

    def check_permission(self, request, obj):
        if obj.pk and not authorise(request.user, Action.EDIT_OBJECT, obj):
            raise PermissionDenied(f"You may not edit service group {obj}: you are not one of its administrators.")


class ServiceGroupHistoryView(ObjectHistoryView):
    queryset = ServiceGroup.objects.all()


class ServiceGroupPropertiesView(PropertiesView):
    queryset = ServiceGroup.objects.all()


class ServiceGroupPropertyDeleteView(PropertyDeleteView):
    queryset = ServiceGroup.objects.all()


class ServiceGroupDeleteView(ObjectDeleteView):
    queryset = ServiceGroup.objects.all()
    delete_service = downtimes.delete_service_group

    def get(self, request, pk):
        obj = self.get_object(request, pk)
        if not authorise(request.user, Action.EDIT_OBJECT, obj):
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
        if not authorise(request.user, Action.EDIT_OBJECT, group):
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

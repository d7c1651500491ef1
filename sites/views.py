from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.urls import reverse

from egiportal import permissions
from egiportal.models import related_count
from egiportal.views import (
    ObjectDeleteView,
    ObjectDetailView,
    ObjectFormView,
    ObjectHistoryView,
    ObjectListView,
    configure_table,
)
from endpoints.models import Service

from . import services
from .choices import Action, RoleStatus
from .filtersets import NGIFilterSet, ProjectFilterSet, ScopeFilterSet, SiteFilterSet
from .forms import CertificationForm, SiteForm
from .models import NGI, Project, Role, Scope, Site
from .tables import NGITable, ProjectTable, ScopeTable, SiteTable

SITE_LIST_QS = (
    Site.objects.select_related("ngi", "country")
    .prefetch_related("scopes")
    .annotate(service_count=related_count(Service.objects.all(), "site"))
)


def contacts_of(user, entity):
    """Granted role holders of `entity` as `user` may see them (Role visibility), or None when `user` may
    not read personal data there (the page says who may)."""
    if not permissions.authorise(user, Action.READ_PERSONAL_DATA, entity):
        return None
    granted = Role.objects.filter(owned_entity=entity, status=RoleStatus.GRANTED)
    return granted.visible_to(user).select_related("user")


class ProjectListView(ObjectListView):
    queryset = Project.objects.annotate(ngi_count=Count("ngis"))
    filterset_class = ProjectFilterSet
    table_class = ProjectTable


class ProjectView(ObjectDetailView):
    queryset = Project.objects.all()
    template_name = "sites/project.html"

    def get_extra_context(self, request, obj):
        ngis = obj.ngis.annotate(site_count=Count("sites")).prefetch_related("scopes")
        return {"ngis": ngis, "contacts": contacts_of(request.user, obj)}


class NGIListView(ObjectListView):
    queryset = NGI.objects.prefetch_related("scopes").annotate(site_count=related_count(Site.objects.all(), "ngi"))
    filterset_class = NGIFilterSet
    table_class = NGITable


class NGIView(ObjectDetailView):
    queryset = NGI.objects.prefetch_related("scopes", "projects")
    template_name = "sites/ngi.html"

    def get_extra_context(self, request, obj):
        return {
            "sites": configure_table(request, SiteTable(SITE_LIST_QS.filter(ngi=obj), orderable=False)),
            "contacts": contacts_of(request.user, obj),
            "personal_data": permissions.may_see_personal_data(request.user),
            "can_add_site": permissions.authorise(request.user, Action.NGI_ADD_SITE, obj),
        }


class SiteListView(ObjectListView):
    queryset = SITE_LIST_QS
    filterset_class = SiteFilterSet
    table_class = SiteTable

    @property
    def add_url(self):
        return reverse("sites:site_add")


class SiteView(ObjectDetailView):
    queryset = Site.objects.select_related("ngi", "country").prefetch_related("scopes", "properties")
    template_name = "sites/site.html"

    def get_extra_context(self, request, obj):
        services_qs = (
            Service.objects.filter(site=obj)
            .select_related("service_type")
            .prefetch_related("scopes", "endpoints", "properties")
        )
        downtimes = obj.downtimes.order_by("-start", "-id")[:20]
        return {
            "services": services_qs,
            "downtimes": downtimes,
            "certification_log": obj.certification_log.all()[:20],
            "contacts": contacts_of(request.user, obj),
            "personal_data": permissions.may_see_personal_data(request.user),
            "can_edit": permissions.authorise(request.user, Action.EDIT_OBJECT, obj),
            "can_certify": permissions.authorise(request.user, Action.SITE_EDIT_CERT_STATUS, obj),
            "can_add_service": permissions.authorise(request.user, Action.SITE_ADD_SERVICE, obj),
        }


class SiteHistoryView(ObjectHistoryView):
    queryset = Site.objects.all()


class SiteFormView(ObjectFormView):
    queryset = Site.objects.all()
    form_class = SiteForm

    def check_permission(self, request, obj):
        if obj.pk is None:
            if not request.user.is_superuser and not NGI.objects.visible_to(request.user, Action.NGI_ADD_SITE).exists():
                raise PermissionDenied("You hold no NGI role that allows adding a site.")
        elif not permissions.authorise(request.user, Action.EDIT_OBJECT, obj):
            raise PermissionDenied(f"You may not edit site {obj}: you need a role on the site or its NGI.")


class SiteDeleteView(ObjectDeleteView):
    queryset = Site.objects.all()
    delete_service = services.delete_site

    def check_permission(self, request, obj):
        if not request.user.is_superuser:
            raise PermissionDenied("Only portal administrators may delete sites.")

    def success_url(self, obj):
        return reverse("sites:site_list")


class CertificationView(ObjectFormView):
    queryset = Site.objects.all()
    form_class = CertificationForm
    template_name = "sites/certification.html"

    def check_permission(self, request, obj):
        if not permissions.authorise(request.user, Action.SITE_EDIT_CERT_STATUS, obj):
            raise PermissionDenied(
                f"You may not change the certification status of {obj}: an NGI manager or project role is needed."
            )


class ScopeListView(ObjectListView):
    queryset = Scope.objects.all()
    filterset_class = ScopeFilterSet
    table_class = ScopeTable


class ScopeView(ObjectDetailView):
    queryset = Scope.objects.all()
    template_name = "sites/scope.html"

    def get_extra_context(self, request, obj):
        return {
            "ngis": obj.ngis.all(),
            "site_table": configure_table(request, SiteTable(SITE_LIST_QS.filter(scopes=obj), orderable=False)),
        }

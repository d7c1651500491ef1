"""Browser pages of the marketplace, on the core's generic views: the catalogue, appliance, version and
image pages, the integrity-check progress partial, and a VO's image list with its curation and the
subscribe panel. Each view parses input, calls one service and renders."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from egiportal import permissions
from egiportal.models import VirtualOrganisation
from egiportal.views import (
    ObjectDeleteView,
    ObjectDetailView,
    ObjectFormView,
    ObjectHistoryView,
    ObjectListView,
)

from . import services
from .choices import ListState, VersionState
from .filtersets import ApplianceFilterSet
from .forms import ApplianceForm, ImageForm, MessageForm, VersionForm
from .models import ApplianceVersion, Image, VirtualAppliance, VOImageList, appliance_name
from .tables import ApplianceTable

# The catalogue reads lists prefetched into attributes (no queryset per row and cell) and leaves out what
# it never shows (the logo's bytes, the description).
IMAGE_COLUMNS = ("id", "version_id", "os_name", "os_version", "format", "arch")
PUBLISHED_WITH_IMAGES = (
    ApplianceVersion.objects.filter(state=VersionState.PUBLISHED)
    .only("id", "appliance_id", "version", "expires", "state")
    .prefetch_related(Prefetch("images", queryset=Image.objects.only(*IMAGE_COLUMNS), to_attr="image_list"))
)
CATALOGUE_QS = (
    VirtualAppliance.objects.listed()
    .defer("logo", "description")
    .prefetch_related(
        Prefetch("categories", to_attr="category_list"),
        Prefetch("versions", queryset=PUBLISHED_WITH_IMAGES, to_attr="published_versions"),
    )
)


def well_formed(validator, value):
    """Names outside their syntax (a NUL, 10,000 characters) cannot exist: 404 before any query."""
    try:
        validator(value)
    except ValidationError:
        return False
    return True


class ByName:
    """Generic views keyed by an appliance's name (its URLs) instead of a pk."""

    def get_object(self, request, name):
        if not well_formed(appliance_name, name):
            raise Http404("No such appliance.")
        return get_object_or_404(self.queryset.visible_to(request.user), name=name)

    def get(self, request, name):
        return super().get(request, name)

    def post(self, request, name):
        return super().post(request, name)


def _require_author(request, appliance):
    if not permissions.authorise(request.user, permissions.EDIT, appliance):
        raise PermissionDenied(f"Only the owner and contacts of {appliance} may change it.")


# ---------------------------------------------------------------------------------------------
# Appliances
# ---------------------------------------------------------------------------------------------


class ApplianceListView(ObjectListView):
    """The catalogue: appliances not deleted, with their published version's images."""

    queryset = CATALOGUE_QS
    filterset_class = ApplianceFilterSet
    table_class = ApplianceTable

    @property
    def add_url(self):
        return reverse("appliance_add")


class ApplianceView(ByName, ObjectDetailView):
    queryset = VirtualAppliance.objects.select_related("owner").prefetch_related("categories", "contacts")
    template_name = "appliances/appliance.html"

    def get_extra_context(self, request, obj):
        versions = list(obj.versions.visible_to(request.user).select_related("published_by").prefetch_related("images"))
        published = next((v for v in versions if v.state == VersionState.PUBLISHED), None)
        endorsing = VirtualOrganisation.objects.filter(
            image_lists__in=VOImageList.objects.visible_to(request.user).filter(
                state=ListState.PUBLISHED, entries__image__version__appliance=obj
            )
        ).distinct()
        can_edit = permissions.authorise(request.user, permissions.EDIT, obj)
        return {
            "published": published,
            "working": next((v for v in versions if v.state == VersionState.WORKING), None),
            "archived": [v for v in versions if v.state == VersionState.ARCHIVED],
            "endorsing": endorsing,
            "can_edit": can_edit,
            # Its authors name the contacts in the edit form anyway; everyone else asks the personal-data rule.
            "personal_hidden": not can_edit
            and bool(permissions.personal_fields_hidden_from(request.user, VirtualAppliance)),
            "message_form": MessageForm(actor=request.user, instance=obj) if can_edit else None,
            "store_url": reverse("store_appliance_list", args=[obj.name]),
        }


class ApplianceHistoryView(ByName, ObjectHistoryView):
    queryset = VirtualAppliance.objects.all()


class ApplianceFormView(ObjectFormView):
    queryset = VirtualAppliance.objects.listed()
    form_class = ApplianceForm
    template_name = "appliances/appliance_edit.html"

    def get_object(self, request, name):
        if name is None:
            return self.queryset.model()
        return ByName.get_object(self, request, name)

    def get(self, request, name=None):
        return super().get(request, name)

    def post(self, request, name=None):
        return super().post(request, name)

    def form_kwargs(self, request, obj):
        kwargs = super().form_kwargs(request, obj)
        if request.method == "POST":  # the logo upload; on GET it would make the form bound
            kwargs["files"] = request.FILES
        return kwargs

    def check_permission(self, request, obj):
        if obj.pk is not None:
            _require_author(request, obj)


class ApplianceDeleteView(ByName, ObjectDeleteView):
    queryset = VirtualAppliance.objects.listed()
    delete_service = services.delete_appliance

    def check_permission(self, request, obj):
        _require_author(request, obj)

    def post(self, request, name):
        self.check_permission(request, self.get_object(request, name))
        return super().post(request, name)

    def success_url(self, obj):
        return reverse("appliance_list")


def appliance_logo(request, name):
    """The stored logo bytes (raster formats only, checked on upload), never sniffed as anything else."""
    if not well_formed(appliance_name, name):
        raise Http404("No such appliance.")
    appliance = get_object_or_404(VirtualAppliance.objects.visible_to(request.user), name=name)
    if not appliance.logo or not appliance.logo_type:
        raise Http404("This appliance has no logo.")
    response = HttpResponse(bytes(appliance.logo), content_type=appliance.logo_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    response["Cache-Control"] = "public, max-age=300"
    return response


class ApplianceMessageView(LoginRequiredMixin, View):
    """POST: an author's message to the managers of a VO."""

    def post(self, request, name):
        appliance = _appliance(request, name)
        form = MessageForm(request.POST, actor=request.user, instance=appliance)
        if form.is_valid():
            try:
                form.save_with(request.user)
            except ValidationError as exc:
                for message in exc.messages:
                    messages.error(request, message)
            else:
                messages.success(request, f"Your message was sent to the managers of {form.cleaned_data['vo']}.")
        else:
            for field, errors in form.errors.items():
                for error in errors:
                    messages.error(request, f"{form.fields[field].label if field in form.fields else ''}: {error}")
        return redirect(appliance.get_absolute_url())


def _appliance(request, name, queryset=None):
    if not well_formed(appliance_name, name):
        raise Http404("No such appliance.")
    queryset = VirtualAppliance.objects.all() if queryset is None else queryset
    return get_object_or_404(queryset.visible_to(request.user), name=name)


# ---------------------------------------------------------------------------------------------
# Versions and images
# ---------------------------------------------------------------------------------------------


def _version(request, name, pk):
    if not well_formed(appliance_name, name):
        raise Http404("No such appliance.")
    rows = ApplianceVersion.objects.visible_to(request.user).select_related("appliance")
    return get_object_or_404(rows, appliance__name=name, pk=pk)


class VersionView(ObjectDetailView):
    queryset = ApplianceVersion.objects.select_related("appliance", "published_by")
    template_name = "appliances/version.html"

    def get(self, request, name, pk):
        self.name = name
        return super().get(request, pk)

    def get_object(self, request, pk):
        return _version(request, self.name, pk)

    def get_extra_context(self, request, obj):
        working = obj.state == VersionState.WORKING
        context = _check_context(request, obj)
        context.update(
            appliance=obj.appliance,
            images=obj.images.select_related("version__appliance"),
            working=working,
            edit_images=context["can_edit"] and working,
        )
        return context


class VersionHistoryView(ObjectHistoryView):
    queryset = ApplianceVersion.objects.all()

    def get(self, request, name, pk):
        self.name = name
        return super().get(request, pk)

    def get_object(self, request, pk):
        return _version(request, self.name, pk)


class VersionFormView(ObjectFormView):
    """Add the working version (.../versions/add/) or edit it; says so when the service clamped the expiry."""

    queryset = ApplianceVersion.objects.select_related("appliance")
    form_class = VersionForm

    def get(self, request, name, pk=None):
        self.appliance = _appliance(request, name, VirtualAppliance.objects.listed())
        return super().get(request, pk)

    def post(self, request, name, pk=None):
        self.appliance = _appliance(request, name, VirtualAppliance.objects.listed())
        return super().post(request, pk)

    def get_object(self, request, pk):
        if pk is None:
            return ApplianceVersion(appliance=self.appliance)
        return _version(request, self.appliance.name, pk)

    def check_permission(self, request, obj):
        _require_author(request, self.appliance)

    def form_kwargs(self, request, obj):
        kwargs = super().form_kwargs(request, obj)
        kwargs["on_note"] = lambda note: messages.warning(request, note)
        return kwargs


class VersionDeleteView(ObjectDeleteView):
    queryset = ApplianceVersion.objects.select_related("appliance")
    delete_service = services.delete_version

    def get(self, request, name, pk):
        self.name = name
        return super().get(request, pk)

    def post(self, request, name, pk):
        self.name = name
        self.check_permission(request, self.get_object(request, pk))
        return super().post(request, pk)

    def get_object(self, request, pk):
        return _version(request, self.name, pk)

    def check_permission(self, request, obj):
        _require_author(request, obj.appliance)

    def success_url(self, obj):
        return obj.appliance.get_absolute_url()


VERSION_ACTIONS = {
    "verify": ("Integrity check started.", lambda actor, v: services.request_integrity_check(actor, v)),
    "verify-publish": (
        "Integrity check started: the version is published when it succeeds.",
        lambda actor, v: services.request_integrity_check(actor, v, publish=True),
    ),
    "publish": ("Version published.", lambda actor, v: services.publish_version(actor, v)),
}


class VersionActionView(LoginRequiredMixin, View):
    """POST Verify, Verify & publish, Publish, or Cancel (the latest check) on a version."""

    def post(self, request, name, pk, action):
        version = _version(request, name, pk)
        _require_author(request, version.appliance)
        try:
            if action == "cancel":
                job = version.jobs.first()
                if job is None:
                    raise Http404("This version has no integrity check.")
                services.cancel_integrity_check(request.user, job)
                done = "Cancellation requested."
            elif action in VERSION_ACTIONS:
                done, service = VERSION_ACTIONS[action]
                service(request.user, version)
            else:
                raise Http404("No such action.")
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, done)
        return redirect(version.get_absolute_url())


class VersionCheckView(View):
    """The latest integrity check of a version, as a partial the version page includes; while the check
    is active it polls itself (htmx), and the reply once it is over carries no trigger, so polling stops."""

    def get(self, request, name, pk):
        version = _version(request, name, pk)
        return render(request, "appliances/inc/check.html", _check_context(request, version))


def _check_context(request, version):
    job = version.jobs.select_related("requested_by").first()
    images = {str(i.pk): i for i in version.images.all()}
    progress = []
    if job is not None:
        for key, state in sorted(job.progress.items(), key=lambda kv: kv[0]):
            total = state.get("total")
            done = state.get("done") or 0
            progress.append(
                {
                    "image": images.get(key),
                    "state": state.get("state", ""),
                    "done": done,
                    "total": total,
                    "percent": int(100 * done / total) if total else None,
                    "error": state.get("error", ""),
                }
            )
    return {
        "version": version,
        "job": job,
        "progress": progress,
        "can_edit": permissions.authorise(request.user, permissions.EDIT, version.appliance),
    }


def _image(request, name, version_pk, pk):
    version = _version(request, name, version_pk)
    return get_object_or_404(Image.objects.visible_to(request.user).select_related("version"), version=version, pk=pk)


class ImageFormView(ObjectFormView):
    queryset = Image.objects.select_related("version__appliance")
    form_class = ImageForm

    def get(self, request, name, version_pk, pk=None):
        self.version = _version(request, name, version_pk)
        return super().get(request, pk)

    def post(self, request, name, version_pk, pk=None):
        self.version = _version(request, name, version_pk)
        return super().post(request, pk)

    def get_object(self, request, pk):
        if pk is None:
            return Image(version=self.version)
        return get_object_or_404(Image.objects.visible_to(request.user), version=self.version, pk=pk)

    def check_permission(self, request, obj):
        _require_author(request, self.version.appliance)

    def success_url(self, obj):
        return self.version.get_absolute_url()


class ImageDeleteView(ObjectDeleteView):
    queryset = Image.objects.select_related("version__appliance")
    delete_service = services.delete_image

    def get(self, request, name, version_pk, pk):
        self.version = _version(request, name, version_pk)
        return super().get(request, pk)

    def post(self, request, name, version_pk, pk):
        self.version = _version(request, name, version_pk)
        self.check_permission(request, self.get_object(request, pk))
        return super().post(request, pk)

    def get_object(self, request, pk):
        return get_object_or_404(Image.objects.visible_to(request.user), version=self.version, pk=pk)

    def check_permission(self, request, obj):
        _require_author(request, self.version.appliance)

    def success_url(self, obj):
        return self.version.get_absolute_url()

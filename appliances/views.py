"""Browser pages of the marketplace, on the core's generic views: the catalogue, appliance, version and
image pages, the integrity-check progress partial, and a VO's image list with its curation and the
subscribe panel. Each view parses input, calls one service and renders."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from egiportal import permissions
from egiportal.models import VirtualOrganisation, vo_name
from egiportal.views import (
    ObjectDeleteView,
    ObjectDetailView,
    ObjectFormView,
    ObjectHistoryView,
    ObjectListView,
)

from . import publishing, services
from .choices import EntryState, ListState, VersionState
from .filtersets import ApplianceFilterSet
from .forms import ApplianceForm, ImageForm, MessageForm, VersionForm
from .models import ApplianceVersion, Image, VirtualAppliance, VOImageList, appliance_name
from .tables import ApplianceTable

PUBLISHED_WITH_IMAGES = ApplianceVersion.objects.filter(state=VersionState.PUBLISHED).prefetch_related("images")
CATALOGUE_QS = VirtualAppliance.objects.listed().prefetch_related(
    "categories", Prefetch("versions", queryset=PUBLISHED_WITH_IMAGES, to_attr="published_versions")
)


def _valid(validator, value):
    """Names outside their syntax (a NUL, 10,000 characters) cannot exist: 404 before any query."""
    try:
        validator(value)
    except ValidationError:
        return False
    return True


class ByName:
    """Generic views keyed by an appliance's name (its URLs) instead of a pk."""

    def get_object(self, request, name):
        if not _valid(appliance_name, name):
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
    if not _valid(appliance_name, name):
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
    if not _valid(appliance_name, name):
        raise Http404("No such appliance.")
    queryset = VirtualAppliance.objects.all() if queryset is None else queryset
    return get_object_or_404(queryset.visible_to(request.user), name=name)


# ---------------------------------------------------------------------------------------------
# Versions and images
# ---------------------------------------------------------------------------------------------


def _version(request, name, pk):
    if not _valid(appliance_name, name):
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


# ---------------------------------------------------------------------------------------------
# A VO's image list
# ---------------------------------------------------------------------------------------------


def _vo(name):
    if not _valid(vo_name, name):
        raise Http404("No such VO.")
    return get_object_or_404(VirtualOrganisation, name=name)


def _appliance_named(request, value):
    if not value or not _valid(appliance_name, value):
        raise ValidationError("Choose an appliance.")
    found = VirtualAppliance.objects.visible_to(request.user).filter(name=value).first()
    if found is None:
        raise ValidationError(f"No appliance is called {value}.")
    return found


def _add(request, vo):
    count = publishing.add_to_list(request.user, vo, _appliance_named(request, request.POST.get("appliance")))
    return f"The draft holds {count} image{'s' if count != 1 else ''} of {request.POST.get('appliance')}."


def _remove(request, vo):
    publishing.remove_from_list(request.user, vo, _appliance_named(request, request.POST.get("appliance")))
    return f"{request.POST.get('appliance')} was removed from the draft."


def _update_all(request, vo):
    updated, skipped = publishing.update_outdated(request.user, vo)
    for name, why in skipped.items():
        messages.warning(request, f"{name}: {why}")
    return f"Updated {len(updated)} appliance{'s' if len(updated) != 1 else ''}: {', '.join(updated) or 'none'}."


def _revert(request, vo):
    publishing.revert_draft(request.user, vo)
    return "The draft is the published list again."


def _publish(request, vo):
    artefact = publishing.publish_list(request.user, vo)
    return f"Published version {artefact.version} of the image list ({artefact.image_count} images)."


def _private(request, vo):
    private = request.POST.get("private") == "on"
    publishing.set_private(request.user, vo, private)
    return "The draft is private: sites will need a subscriber token." if private else "The draft is public."


def _subscriber_add(request, vo):
    _subscriber, secret = services.add_subscriber(request.user, vo, request.POST.get("name", "")[:1000])
    # Shown once: only its digest is kept.
    return f"Subscriber token (copy it now, it is not shown again): {secret}"


def _subscriber_revoke(request, vo):
    value = request.POST.get("subscriber", "")
    well_formed = value.isascii() and value.isdigit() and len(value) <= 18  # past 18 digits: beyond bigint
    found = vo.list_subscribers.filter(pk=int(value), revoked=None).first() if well_formed else None
    if found is None:
        raise ValidationError("No such subscriber.")
    services.revoke_subscriber(request.user, found)
    return f"The token of {found.name} is revoked."


LIST_ACTIONS = {
    "add": _add,
    "update": _add,  # updating an entry takes the appliance's current published version, as adding does
    "remove": _remove,
    "update_all": _update_all,
    "revert": _revert,
    "publish": _publish,
    "private": _private,
    "subscriber_add": _subscriber_add,
    "subscriber_revoke": _subscriber_revoke,
}


class VOImageListView(View):
    """A VO's published image list with each entry's state, the subscribe panel and the diff of the last
    publication; for the VO's managers, its draft and the actions that curate and publish it (POST).
    Not a generic page (one per VO, keyed by the VO's name): tested in appliances/tests/test_views_lists.py."""

    def get(self, request, name):
        vo = _vo(name)
        lists = VOImageList.objects.visible_to(request.user).filter(vo=vo)
        published = lists.filter(state=ListState.PUBLISHED).first()
        may_manage = permissions.authorise(request.user, permissions.EDIT, vo)
        draft = lists.filter(state=ListState.DRAFT).first() if may_manage else None
        context = {"vo": vo, "may_manage": may_manage, "published": published, "draft": draft}
        if published is not None:
            rows = publishing.entry_rows(published)
            counts = publishing.summary(rows)
            context.update(rows=rows, counts=counts, outdated=counts[EntryState.OUTDATED] + counts[EntryState.EXPIRED])
            context.update(_subscribe_context(request, vo, published))
        if may_manage:
            # Until a manager changes something there is no draft: it is the published list (the first
            # change copies it, publishing._draft), so a GET writes nothing.
            source = draft or published
            context["draft_rows"] = publishing.entry_rows(source) if source else []
            context["draft_private"] = source.private if source else False
            context["subscribers"] = list(vo.list_subscribers.filter(revoked=None).order_by("name"))
            held = {e.image.version.appliance_id for e, _s in context["draft_rows"]}
            context["candidates"] = list(
                VirtualAppliance.objects.listed()
                .filter(versions__state=VersionState.PUBLISHED)
                .exclude(pk__in=held)
                .order_by("name")
                .values_list("name", "title")[:1000]
            )
        return render(request, "appliances/vo_image_list.html", context)

    def post(self, request, name):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        vo = _vo(name)
        if not permissions.authorise(request.user, permissions.EDIT, vo):
            raise PermissionDenied(f"Only the managers of {vo} may change its image list.")
        action = LIST_ACTIONS.get(request.POST.get("action", ""))
        if action is None:
            return HttpResponseBadRequest("Unknown action.")
        try:
            done = action(request, vo)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, done)
        return redirect(reverse("vo_image_list", args=[vo.name]))


def _subscribe_context(request, vo, published):
    """URL, signer, snippets for atrope and cloudkeeper, and what the last publication changed."""
    artefacts = list(vo.image_list_artefacts.visible_to(request.user).order_by("-created", "-id")[:2])
    url = settings.PORTAL_URL + reverse("store_vo_list", args=[vo.name])
    try:
        signer_ = publishing.signer()
        dn, ca_dn = signer_.dn, signer_.ca_dn
    except ValidationError:
        dn, ca_dn = (artefacts[0].signer_dn, artefacts[0].signer_ca) if artefacts else ("", "")
    latest = artefacts[0] if artefacts else None
    previous = artefacts[1] if len(artefacts) > 1 else None
    source = vo.name.replace(".", "_")
    return {
        "subscribe": {
            "url": url,
            "dn": dn,
            "ca_dn": ca_dn,
            "chain_url": settings.PORTAL_URL + reverse("store_signer_chain"),
            "private": published.private,
            "atrope": atrope_snippet(source, url, dn, ca_dn, published.private),
            "cloudkeeper": cloudkeeper_snippet(url, published.private),
        },
        "latest": latest,
        "previous": previous,
        "diff": publishing.artefact_diff(previous.document if previous else None, latest.document) if latest else None,
    }


def _yaml_string(value):
    """A YAML single-quoted scalar: DNs hold '/', '=' and ',' and may hold a quote."""
    return "'" + str(value).replace("'", "''") + "'"


def atrope_snippet(source, url, dn, ca_dn, private):
    """The `hepix.yaml` source a site's atrope needs for this list (appdb-hepix.md §1.8a)."""
    lines = [
        f"{source}:",
        f"    url: {_yaml_string(url)}",
        "    enabled: true",
        "    endorser:",
        f"        dn: {_yaml_string(dn)}",
        f"        ca: {_yaml_string(ca_dn)}",
    ]
    if private:
        lines.append("    token: '<your subscriber token>'")
    lines += [
        "    # Optional: only these image identifiers (dc:identifier); empty means all.",
        "    images: []",
        "    # Optional: put in front of every image name in Glance, and the OpenStack project that owns them.",
        "    prefix: 'EGI '",
        "    project: '<the VO project of your cloud>'",
    ]
    return "\n".join(lines) + "\n"


def cloudkeeper_snippet(url, private):
    """cloudkeeper's `cloudkeeper.yml` entries: the list URL (the token in it for a private list, the only
    way cloudkeeper sends one) and the CA directory that holds the IGTF roots and the signer's chain."""
    if private:
        scheme, _, rest = url.partition("://")
        url = f"{scheme}://<your subscriber token>:x-oauth-basic@{rest}"
    return (
        "cloudkeeper:\n"
        "  image-lists:\n"
        f"    - {url}\n"
        "  # The trusted CAs: the IGTF bundle plus the certificates of signer-chain.pem (hashed, c_rehash).\n"
        "  ca-dir: /etc/grid-security/certificates/\n"
    )

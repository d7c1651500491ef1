"""Role pages (specs/gocdb.md §5.6): request a role, decide pending requests, list and drop one's roles.

Each view parses input, calls one service in sites.services and renders; PermissionDenied from a
service becomes the 403 page with its reason, a ValidationError a 400 page or form error.
"""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from egiportal.views import _add_errors

from . import services
from .models import OwnedEntity, Role
from .role_forms import RoleRequestForm


def entity_url(entity, default=""):
    """The page of an entity, or `default` where its app has no page for it yet."""
    try:
        return entity.get_absolute_url()
    except NoReverseMatch:
        return default


def _next_url(request, default):
    """A same-site `next` from the form, or `default`: never redirect elsewhere."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return default


class RoleRequestView(LoginRequiredMixin, View):
    """GET: the "Request a role" form for one project, NGI, site or service group; POST: request it."""

    template_name = "sites/roles/request.html"

    def get_entity(self, entity_id):
        return get_object_or_404(OwnedEntity, pk=entity_id).concrete

    def get(self, request, entity_id):
        entity = self.get_entity(entity_id)
        return self.render_form(request, entity, RoleRequestForm(instance=entity, actor=request.user))

    def post(self, request, entity_id):
        entity = self.get_entity(entity_id)
        form = RoleRequestForm(request.POST, instance=entity, actor=request.user)
        if form.is_valid():
            try:
                role = form.save_with(request.user)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"You requested the role {role.get_role_type_display()} over {entity}. "
                    "The people who can approve it have been told.",
                )
                return redirect(entity_url(entity, reverse("sites:my_roles")))
        return self.render_form(request, entity, form, status=400)

    def render_form(self, request, entity, form, status=200):
        held = services.roles_of(request.user).filter(owned_entity_id=entity.pk)
        context = {"entity": entity, "entity_url": entity_url(entity), "form": form, "held": held}
        return render(request, self.template_name, context, status=status)


class RoleRequestsView(LoginRequiredMixin, View):
    """The pending requests the user may approve or reject."""

    def get(self, request):
        roles = services.pending_roles_for(request.user)
        return render(request, "sites/roles/requests.html", {"roles": roles})


class MyRolesView(LoginRequiredMixin, View):
    """The user's granted roles and pending requests, with revoke / cancel buttons."""

    def get(self, request):
        roles = list(services.roles_of(request.user))
        granted = [r for r in roles if r.status == Role.Status.GRANTED]
        pending = [r for r in roles if r.status == Role.Status.PENDING]
        return render(request, "sites/roles/mine.html", {"granted": granted, "pending": pending})


class RoleDecisionView(LoginRequiredMixin, View):
    """POST only: approve, reject or revoke one role through its service."""

    service = None
    done = ""
    default_next = "sites:role_requests"

    def post(self, request, pk):
        role = get_object_or_404(Role.objects.visible_to(request.user).select_related("user", "owned_entity"), pk=pk)
        description = str(role)
        try:
            type(self).service(request.user, role)
        except ValidationError as exc:
            context = {"errors": exc.messages, "back": _next_url(request, reverse(self.default_next))}
            return render(request, "sites/roles/problem.html", context, status=400)
        messages.success(request, f"{description}: {self.done}.")
        return redirect(_next_url(request, reverse(self.default_next)))


class RoleApproveView(RoleDecisionView):
    service = services.grant_role
    done = "granted"


class RoleRejectView(RoleDecisionView):
    service = services.reject_role
    done = "request rejected"


class RoleRevokeView(RoleDecisionView):
    service = services.revoke_role
    done = "removed"
    default_next = "sites:my_roles"

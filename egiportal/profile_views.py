"""The user's profile (identities, VO memberships, site roles, API tokens) and the virtual organisation pages.

Each view parses input, calls at most one service and renders; every page answers with a fixed number
of queries whatever the number of rows. A user only ever reaches their own identities: anyone else's is a
404, as if it did not exist.
"""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from sites import services as site_services

from . import services
from .filtersets import VirtualOrganisationFilterSet
from .models import APIToken, Identity, VirtualOrganisation, VOMembership, vo_name
from .pi import client_dn
from .tables import VOTable
from .views import ObjectListView


class ProfileView(LoginRequiredMixin, View):
    """The logged-in user's account: identities, VO memberships, site roles and API tokens."""

    def get(self, request):
        from egiportal import oidc  # imported here: the OIDC module is optional for this page

        user = request.user
        context = {
            "identities": Identity.objects.filter(user=user),
            "memberships": VOMembership.objects.filter(user=user).select_related("vo"),
            "roles": site_services.roles_of(user),
            "tokens": APIToken.objects.filter(user=user),
            "checkin": oidc.enabled(),
            "certificate": unlinked_certificate(request),
        }
        return render(request, "egiportal/profile/profile.html", context)


def unlinked_certificate(request):
    """The DN of the client certificate presented through the front proxy, if no account has it yet."""
    dn = client_dn(request)
    return dn if dn and not Identity.objects.filter(realm=Identity.Realm.X509, value=dn).exists() else ""


class CertificateLinkView(LoginRequiredMixin, View):
    """POST: link the client certificate presented with this request to the user's account."""

    def post(self, request):
        try:
            services.link_certificate(request.user, client_dn(request))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Your certificate is now linked to your account.")
        return redirect(reverse("profile"))


class IdentityUnlinkView(LoginRequiredMixin, View):
    """GET: confirm; POST: unlink. The service refuses to remove the identity the user logs in with."""

    template_name = "egiportal/profile/unlink.html"

    def get_identity(self, request, pk):
        return get_object_or_404(Identity, pk=pk, user=request.user)

    def get(self, request, pk):
        return render(request, self.template_name, {"identity": self.get_identity(request, pk)})

    def post(self, request, pk):
        identity = self.get_identity(request, pk)
        try:
            services.unlink_identity(request.user, identity)
        except ValidationError as exc:
            return render(request, self.template_name, {"identity": identity, "errors": exc.messages}, status=400)
        messages.success(request, f"The {identity.realm} identity was unlinked from your account.")
        return redirect(reverse("profile"))


class VOListView(ObjectListView):
    """Every VO with its number of members and its managers, searchable."""

    queryset = VirtualOrganisation.objects.with_members()
    filterset_class = VirtualOrganisationFilterSet
    table_class = VOTable


class VODetailView(View):
    """A VO: its description, managers and number of members; a logged-in member also sees their roles.
    Its managers may change the description here (POST)."""

    template_name = "egiportal/vos/detail.html"

    def get_vo(self, name):
        # Names outside the VO name syntax (NUL, "..", too long) cannot exist; refused before any query,
        # as PostgreSQL would raise on a NUL character.
        try:
            vo_name(name)
        except ValidationError:
            raise Http404("No such VO.") from None
        return get_object_or_404(VirtualOrganisation.objects.with_members(), name=name)

    def get(self, request, name):
        return self.render_page(request, self.get_vo(name))

    def post(self, request, name):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        vo = self.get_vo(name)
        try:
            services.update_vo(request.user, vo, {"description": request.POST.get("description", "")})
        except ValidationError as exc:
            vo.description = request.POST.get("description", "")
            return self.render_page(request, vo, errors=exc.messages, status=400)
        messages.success(request, f"The description of {vo} was saved.")
        return redirect(vo.get_absolute_url())

    def render_page(self, request, vo, errors=(), status=200):
        mine = vo.memberships.filter(user=request.user) if request.user.is_authenticated else []
        managers = list(dict.fromkeys(row.user for row in vo.manager_rows))  # a user may manage from both sources
        context = {"vo": vo, "managers": managers, "mine": mine, "can_edit": vo.managed_by(request.user)}
        return render(request, self.template_name, {**context, "errors": errors}, status=status)

"""Logging in (EGI Check-in and local accounts), the user's profile (identities, VO memberships, site roles,
API tokens) and the virtual organisation pages.

Each view parses input, calls at most one service and renders; every page answers with a fixed number
of queries whatever the number of rows. A user only ever reaches their own identities: anyone else's is a
404, as if it did not exist.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from . import oidc, permissions, portal_apps, services
from .filtersets import VirtualOrganisationFilterSet
from .forms import LoginForm
from .identity import proxy_identity
from .models import APIToken, Identity, VirtualOrganisation, VOMembership, vo_name
from .tables import VOTable
from .views import ObjectListView


class LoginView(auth_views.LoginView):
    """The login page: "Log in with EGI Check-in" where it is configured, and Django's own user name and
    password form for local accounts unless LOCAL_LOGIN is off (then a password POST is refused).
    Failed password logins are throttled per account and per address (LoginForm)."""

    authentication_form = LoginForm

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "checkin": oidc.enabled(), "local_login": settings.LOCAL_LOGIN}

    def post(self, request, *args, **kwargs):
        if not settings.LOCAL_LOGIN:
            return oidc.refused(request, "Log in with EGI Check-in: local accounts are switched off on this portal.")
        return super().post(request, *args, **kwargs)


class ProfileView(LoginRequiredMixin, View):
    """The logged-in user's account: identities, VO memberships, site roles and API tokens."""

    def get(self, request):
        user = request.user
        context = {
            "identities": Identity.objects.filter(user=user),
            "memberships": VOMembership.objects.filter(user=user).select_related("vo"),
            "panels": portal_apps.profile_panels(user),
            "tokens": APIToken.objects.filter(user=user),
            "checkin": oidc.enabled(),
            "certificate": unlinked_certificate(request),
        }
        return render(request, "egiportal/profile/profile.html", context)


def unlinked_certificate(request):
    """The DN of the client certificate presented through the front proxy, if no account has it yet."""
    dn = proxy_identity(request, Identity.Realm.X509)
    return dn if dn and not Identity.objects.filter(realm=Identity.Realm.X509, value=dn).exists() else ""


class CertificateLinkView(LoginRequiredMixin, View):
    """POST: link the client certificate presented with this request to the user's account."""

    def post(self, request):
        try:
            services.link_certificate(request.user, proxy_identity(request, Identity.Realm.X509))
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
    model = VirtualOrganisation  # not read through a queryset attribute; named for the test kit's meta-tests

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
            return auth_views.redirect_to_login(request.get_full_path())
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
        context = {
            "vo": vo,
            "managers": vo.manager_users,
            "mine": mine,
            "can_edit": permissions.authorise(request.user, permissions.EDIT, vo),
            "panels": portal_apps.object_panels(vo, request.user),
        }
        return render(request, self.template_name, {**context, "errors": errors}, status=status)

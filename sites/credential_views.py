"""Pages that manage the API credentials of a site (specs/gocdb.md §10): add, edit, renew, delete.

Each view parses input, calls one service in sites.services and renders. The services check the
permission again (EDIT_OBJECT on the site); the views only refuse early, before showing a form.
PermissionDenied becomes the 403 page with its reason, a ValidationError a form error or a 400 page.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views import View

from egiportal.views import _add_errors

from . import services
from .credential_forms import CredentialAddForm, CredentialEditForm
from .models import APICredential, Site


def credentials_url(site):
    """The credentials card on the site page."""
    return site.get_absolute_url() + "#api-credentials"


def describe(credential):
    return f"{credential.get_kind_display()} {credential.identifier}"


def pi_example_url(site):
    """A level-3 PI call on the site, to show how a new token is used."""
    query = urlencode({"method": "get_site", "sitename": site.short_name})
    return f"{settings.PORTAL_URL}{reverse('pi_private')}?{query}"


class CredentialView(LoginRequiredMixin, View):
    """Base of the pages on one credential: looks it up and refuses users who may not manage it."""

    def get_credential(self, request, pk):
        credential = get_object_or_404(APICredential.objects.select_related("site", "user"), pk=pk)
        services.require_credential_manager(request.user, credential.site)
        return credential

    def context(self, credential, **extra):
        return {"credential": credential, "site": credential.site, "back": credentials_url(credential.site), **extra}

    def problem(self, request, credential, exc):
        """A credential that changed under the user (deleted meanwhile): say so, with a way back."""
        context = {"errors": exc.messages, "back": credentials_url(credential.site)}
        return render(request, "sites/roles/problem.html", context, status=400)


class CredentialAddView(LoginRequiredMixin, View):
    """GET: the form; POST: register the credential. A new portal token's secret is shown on the reply
    itself and never again: it is not stored anywhere (not even in the session), only its digest is."""

    template_name = "sites/credentials/add.html"

    def get_site(self, request, pk):
        site = get_object_or_404(Site, pk=pk)
        services.require_credential_manager(request.user, site)
        return site

    def get(self, request, pk):
        site = self.get_site(request, pk)
        return self.render_form(request, site, CredentialAddForm(instance=site, actor=request.user))

    def post(self, request, pk):
        site = self.get_site(request, pk)
        form = CredentialAddForm(request.POST, instance=site, actor=request.user)
        if form.is_valid():
            try:
                credential, secret = form.save_with(request.user)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                if secret is not None:
                    return self.render_secret(request, site, credential, secret)
                messages.success(request, f"Added {describe(credential)}. You are its owner.")
                return redirect(credentials_url(site))
        return self.render_form(request, site, form, status=400)

    def render_form(self, request, site, form, status=200):
        context = {"site": site, "form": form, "back": credentials_url(site)}
        return render(request, self.template_name, context, status=status)

    def render_secret(self, request, site, credential, secret):
        context = {
            "site": site,
            "credential": credential,
            "secret": secret,
            "example_url": pi_example_url(site),
            "back": credentials_url(site),
        }
        response = render(request, "sites/credentials/issued.html", context)
        add_never_cache_headers(response)  # no browser or proxy may keep the page with the secret
        return response


class CredentialEditView(CredentialView):
    """GET: the allow-write form; POST: save it (this also renews the credential and makes the user owner)."""

    template_name = "sites/credentials/edit.html"

    def get(self, request, pk):
        credential = self.get_credential(request, pk)
        return self.render_form(request, credential, CredentialEditForm(instance=credential, actor=request.user))

    def post(self, request, pk):
        credential = self.get_credential(request, pk)
        form = CredentialEditForm(request.POST, instance=credential, actor=request.user)
        if form.is_valid():
            try:
                credential = form.save_with(request.user)
            except ValidationError as exc:
                return self.problem(request, credential, exc)
            write = "may" if credential.allow_write else "may not"
            messages.success(
                request,
                f"Saved {describe(credential)}: it {write} use the write API. "
                f"It is renewed until {credential.expires:%Y-%m-%d} and you are its owner.",
            )
            return redirect(credentials_url(credential.site))
        return self.render_form(request, credential, form, status=400)

    def render_form(self, request, credential, form, status=200):
        return render(request, self.template_name, self.context(credential, form=form), status=status)


class CredentialRenewView(CredentialView):
    """POST only: restart the validity of a credential; the user becomes its owner."""

    def post(self, request, pk):
        credential = self.get_credential(request, pk)
        try:
            credential = services.renew_api_credential(request.user, credential)
        except ValidationError as exc:
            return self.problem(request, credential, exc)
        messages.success(
            request, f"Renewed {describe(credential)} until {credential.expires:%Y-%m-%d}. You are now its owner."
        )
        return redirect(credentials_url(credential.site))


class CredentialDeleteView(CredentialView):
    """GET: confirm; POST: delete."""

    def get(self, request, pk):
        credential = self.get_credential(request, pk)
        return render(request, "sites/credentials/delete.html", self.context(credential))

    def post(self, request, pk):
        credential = self.get_credential(request, pk)
        try:
            services.delete_api_credential(request.user, credential)
        except ValidationError as exc:
            return self.problem(request, credential, exc)
        messages.success(request, f"Deleted {describe(credential)}. Clients using it are refused from now on.")
        return redirect(credentials_url(credential.site))

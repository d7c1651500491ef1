"""Pages on which users manage their own personal API tokens: list, create, revoke.

Each view parses input, calls one service in egiportal.services and renders. A user only ever reaches
their own tokens: anyone else's token is a 404, as if it did not exist.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views import View

from . import services
from .models import APIToken
from .token_forms import TokenCreateForm
from .views import _add_errors


def api_root_url():
    """The REST API root, to show how a new token is used."""
    return f"{settings.PORTAL_URL}/api/v1/"


class TokenListView(LoginRequiredMixin, View):
    """GET: the user's tokens and the form for a new one; POST: create it. The new token's secret is
    shown on the reply itself and never again: only its digest is stored (not even the session has it)."""

    template_name = "egiportal/tokens/list.html"

    def get(self, request):
        return self.render_page(request, TokenCreateForm(actor=request.user))

    def post(self, request):
        form = TokenCreateForm(request.POST, actor=request.user)
        if form.is_valid():
            try:
                token, secret = form.save_with(request.user)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                return self.render_secret(request, token, secret)
        return self.render_page(request, form, status=400)

    def render_page(self, request, form, status=200):
        tokens = APIToken.objects.filter(user=request.user)
        return render(request, self.template_name, {"tokens": tokens, "form": form}, status=status)

    def render_secret(self, request, token, secret):
        context = {"token": token, "secret": secret, "example_url": api_root_url()}
        response = render(request, "egiportal/tokens/issued.html", context)
        add_never_cache_headers(response)  # no browser or proxy may keep the page with the secret
        return response


class TokenRevokeView(LoginRequiredMixin, View):
    """GET: confirm; POST: revoke."""

    def get_token(self, request, pk):
        return get_object_or_404(APIToken, pk=pk, user=request.user)

    def get(self, request, pk):
        token = self.get_token(request, pk)
        return render(request, "egiportal/tokens/revoke.html", {"token": token})

    def post(self, request, pk):
        token = self.get_token(request, pk)
        try:
            services.revoke_api_token(request.user, token)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Revoked {token.prefix}. Requests carrying it are refused from now on.")
        return redirect(reverse("api_tokens"))

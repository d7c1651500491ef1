"""Logging in (EGI Check-in and local accounts), the user's profile, and the VO pages."""

from django.conf import settings
from django.contrib.auth import views as auth_views

from . import oidc


class LoginView(auth_views.LoginView):
    """The login page: "Log in with EGI Check-in" where it is configured, and Django's own user name and
    password form for local accounts unless LOCAL_LOGIN is off (then a password POST is refused)."""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "checkin": oidc.enabled(), "local_login": settings.LOCAL_LOGIN}

    def post(self, request, *args, **kwargs):
        if not settings.LOCAL_LOGIN:
            return oidc.refused(request, "Log in with EGI Check-in: local accounts are switched off on this portal.")
        return super().post(request, *args, **kwargs)

"""Form bases: Bootstrap styling and the `save_with(actor)` hook that calls a service."""

import hashlib
import math
import secrets

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core import signing
from django.core.exceptions import ValidationError
from rest_framework.throttling import BaseThrottle

from . import caching, services
from .filtersets import style_widgets


class StyledMixin:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_widgets(self)


class ThrottledLoginMixin:
    """A user name and password form, throttled: after LOGIN_FAILURES_PER_ACCOUNT failures for an account,
    or LOGIN_FAILURES_PER_ADDRESS from a client address, in a window of LOGIN_FAILURE_WINDOW_SECONDS, that
    account or address is refused until the window ends, before any password is checked.

    Each attempt is counted first (atomically, egiportal.caching.count), so parallel guesses cannot slip
    through between a check and a count; a refused or successful attempt is then taken back, so only
    failures remain counted, and an address that is refused locks no further accounts.
    """

    throttled_messages = {
        "account": "Too many failed logins for this account; try again in %(wait)s.",
        "address": "Too many failed logins from your address; try again in %(wait)s.",
    }

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not username or not password:
            return super().clean()
        address = BaseThrottle().get_ident(self.request) if self.request else ""  # as the REST rate limit's
        window = settings.LOGIN_FAILURE_WINDOW_SECONDS
        account_key = hashlib.sha256(username.casefold().encode()).hexdigest()
        attempts = [
            ("account", caching.count(f"login-failures:account:{account_key}", window)),
            ("address", caching.count(f"login-failures:address:{address}", window)),
        ]
        limits = {"account": settings.LOGIN_FAILURES_PER_ACCOUNT, "address": settings.LOGIN_FAILURES_PER_ADDRESS}
        over = [(name, counted) for name, counted in attempts if counted and counted.value > limits[name]]
        if over:
            self._uncount(attempts)
            name, counted = over[0]
            message = self.throttled_messages[name]
            raise ValidationError(message, code="throttled", params={"wait": _minutes(counted)})
        cleaned = super().clean()  # a wrong password raises here: the failure stays counted
        self._uncount(attempts)
        return cleaned

    def _uncount(self, attempts):
        for _, counted in attempts:
            caching.uncount(counted)


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    """The login page's form for local accounts."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your user name and password did not match.",
    }


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """The admin site's login form: the same budgets as the login page's, so it is no way around them."""


def _minutes(counted):
    minutes = max(1, math.ceil(counted.retry_after / 60))
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


FORM_TOKEN = "form_token"
_form_token_signer = signing.TimestampSigner(salt="egiportal.forms.form-token")


def new_form_token():
    """A one-time token for one rendering of a create form: random, signed with the time it was made."""
    return _form_token_signer.sign(secrets.token_urlsafe(24))


class FormTokenField(forms.CharField):
    """The hidden one-time token of a create form (egiportal.services.create_once). Optional, so that a
    script posting the fields alone still works; when sent, it must be one this server signed within
    services.FORM_TOKEN_MAX_AGE, as its FormSubmission row is kept no longer."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(required=False, max_length=200, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return ""
        try:
            _form_token_signer.unsign(value, max_age=services.FORM_TOKEN_MAX_AGE)
        except signing.SignatureExpired:
            raise ValidationError("This form is more than a day old: reload the page and enter it again.") from None
        except signing.BadSignature:
            raise ValidationError("This form was not made by the portal: reload the page and enter it again.") from None
        return value


class OnceMixin:
    """`once=True` (the generic create view's) adds the hidden one-time token FORM_TOKEN to the form."""

    def __init__(self, *args, once=False, **kwargs):
        super().__init__(*args, **kwargs)
        if once:
            self.fields[FORM_TOKEN] = FormTokenField(initial=new_form_token())


class ServiceModelForm(OnceMixin, StyledMixin, forms.ModelForm):
    """A ModelForm whose model validation runs as usual but whose save goes through a service."""

    def __init__(self, *args, actor=None, **kwargs):
        self.actor = actor
        super().__init__(*args, **kwargs)

    def save(self, commit=True):
        raise NotImplementedError("Use save_with(actor): writes go through services.")

    def save_with(self, actor):
        raise NotImplementedError


class ActorForm(OnceMixin, StyledMixin, forms.Form):
    def __init__(self, *args, actor=None, instance=None, **kwargs):
        self.actor, self.instance = actor, instance
        super().__init__(*args, **kwargs)


class PropertiesForm(ActorForm):
    """Bulk add: one `key=value` per line; optionally keep the values of existing keys."""

    properties = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "key=value\nother.key=value"}),
        help_text="One key=value per line.",
        max_length=20000,
    )
    no_overwrite = forms.BooleanField(required=False, label="Do not overwrite existing keys")

    def clean_properties(self):
        pairs = []
        for number, line in enumerate(self.cleaned_data["properties"].splitlines(), 1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise ValidationError(f"Line {number} is not key=value.")
            pairs.append((key, value))
        if not pairs:
            raise ValidationError("Give at least one key=value line.")
        return pairs

    def save_with(self, actor):
        services.set_properties(
            actor,
            self.instance,
            self.cleaned_data["properties"],
            existing=services.KEEP_EXISTING if self.cleaned_data["no_overwrite"] else services.UPDATE_EXISTING,
        )
        return self.instance

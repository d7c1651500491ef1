"""The form that creates a personal API token. It only collects input: the rules (description format,
expiry in the future) are checked by the model and egiportal.services.create_api_token."""

from datetime import timedelta

from django import forms
from django.utils import timezone

from . import services
from .forms import ActorForm

NEVER = "never"
EXPIRY_CHOICES = [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), (NEVER, "Never")]


class TokenCreateForm(ActorForm):
    description = forms.CharField(
        label="Description",
        max_length=200,
        help_text="What the token is for, e.g. the tool or host that uses it.",
    )
    expiry = forms.ChoiceField(
        label="Expires after",
        choices=EXPIRY_CHOICES,
        initial="90",
        widget=forms.RadioSelect,
        help_text="A token that never expires works until you revoke it.",
    )
    write_enabled = forms.BooleanField(
        label="Write enabled",
        required=False,
        help_text="Also allow changes (POST, PUT, PATCH, DELETE). Leave it off for tools that only read.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expiry"].widget.attrs["class"] = "form-check-input"  # radios, not a text box
        self.fields["description"].widget.attrs.update(autocomplete="off", spellcheck="false")

    def clean_expiry(self):
        """The expiry as a datetime, or None for a token that never expires."""
        choice = self.cleaned_data["expiry"]
        return None if choice == NEVER else timezone.now() + timedelta(days=int(choice))

    def save_with(self, actor):
        """Returns (token, secret), as the service does."""
        data = self.cleaned_data
        return services.create_api_token(actor, data["description"], data["expiry"], data["write_enabled"])

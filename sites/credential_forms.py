"""Forms of the API credential pages of a site (specs/gocdb.md §10). They only collect input: the rules
(identifier formats, duplicates, permissions) are checked by the services in sites.services."""

from django import forms

from egiportal.forms import ActorForm

from . import services
from .models import APICredential

Kind = APICredential.Kind


class CredentialAddForm(ActorForm):
    """Register a credential for the site given as `instance`."""

    kind = forms.ChoiceField(
        label="Type",
        choices=Kind.choices,
        initial=Kind.X509,
        widget=forms.RadioSelect,
        help_text="A portal token is a secret the portal makes for you; the other types are presented by the client.",
    )
    identifier = forms.CharField(
        label="Identifier",
        required=False,
        max_length=255,
        help_text=(
            "X.509: the certificate subject in slash form, e.g. /C=NL/O=Example/CN=robot.example.org. "
            "OIDC: the subject (sub claim) of the token, e.g. 0123abcd@egi.eu. Leave empty for a portal token."
        ),
    )
    allow_write = forms.BooleanField(
        label="Allow write",
        required=False,
        help_text="Also let this credential change the site through the write API.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].widget.attrs["class"] = "form-check-input"  # radios, not a text box
        self.fields["identifier"].widget.attrs.update(autocomplete="off", spellcheck="false")

    def save_with(self, actor):
        """Returns (credential, secret or None), as the service does."""
        data = self.cleaned_data
        return services.add_api_credential(actor, self.instance, data["kind"], data["identifier"], data["allow_write"])


class CredentialEditForm(ActorForm):
    """Allow or refuse write-API use of the credential given as `instance`."""

    allow_write = forms.BooleanField(
        label="Allow write", required=False, help_text="Let this credential change the site through the write API."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["allow_write"].initial = self.instance.allow_write

    def save_with(self, actor):
        return services.edit_api_credential(actor, self.instance, self.cleaned_data["allow_write"])

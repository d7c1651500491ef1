"""Browser forms of the marketplace. Model validation runs as in every form (full_clean); saving goes
through the services (`save_with(actor)`), which check permissions and the lifecycle rules."""

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from egiportal.forms import ActorForm, ServiceModelForm
from egiportal.models import VirtualOrganisation
from endpoints.forms import UTCDateTimeField

from . import notifications, services
from .choices import ContextFormat, Hypervisor
from .models import ApplianceVersion, Category, Image, VirtualAppliance

MAX_CONTACTS = 20


class ConstraintsInService:
    """Leave the model's constraints to the service: it answers a clash (a name taken in another case, a
    reused version string) on the field concerned, for every entry point alike, where the form's model
    validation would give an anonymous "constraint violated"."""

    def _post_clean(self):
        full_clean = self.instance.full_clean
        self.instance.full_clean = lambda *args, **kwargs: full_clean(*args, **kwargs, validate_constraints=False)
        try:
            super()._post_clean()
        finally:
            del self.instance.full_clean


class ApplianceForm(ConstraintsInService, ServiceModelForm):
    """Add or edit an appliance. Its name is in URLs and sites' subscriptions, so it is fixed once made.
    Contacts are named by user name (the form lists no users: who has an account is personal data)."""

    categories = forms.ModelMultipleChoiceField(
        queryset=Category.objects.all(), required=False, widget=forms.SelectMultiple(attrs={"size": 6})
    )
    contacts = forms.CharField(
        required=False,
        max_length=2000,
        help_text="User names of co-authors who may edit it, separated by commas.",
    )
    logo = forms.FileField(required=False, help_text="PNG, JPEG or GIF, at most 256 KB.")
    remove_logo = forms.BooleanField(required=False, label="Remove the logo")

    class Meta:
        model = VirtualAppliance
        fields = ["name", "title", "description", "homepage"]
        widgets = {"description": forms.Textarea(attrs={"rows": 5, "maxlength": 5000})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["name"].disabled = True
            if not self.is_bound:
                self.initial["categories"] = list(self.instance.categories.all())
                self.initial["contacts"] = ", ".join(sorted(u.username for u in self.instance.contacts.all()))
        else:
            del self.fields["remove_logo"]

    def validate_unique(self):
        pass  # the service answers a taken name (in any case) on the name field

    def clean_contacts(self):
        names = [n.strip() for n in self.cleaned_data["contacts"].split(",") if n.strip()]
        if len(names) > MAX_CONTACTS:
            raise ValidationError(f"Name at most {MAX_CONTACTS} contacts.")
        users = list(get_user_model().objects.filter(username__in=names, is_active=True))
        unknown = sorted(set(names) - {u.username for u in users})
        if unknown:
            raise ValidationError(f"No active user is called {', '.join(unknown)}.")
        return users

    def clean_logo(self):
        upload = self.cleaned_data.get("logo")
        if not upload:
            return None
        data = upload.read(services.LOGO_MAX_BYTES + 1)
        try:
            services.logo_type(data)  # refused here with its reason, before anything is saved
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["logo"]) from exc
        return data

    @transaction.atomic
    def save_with(self, actor):
        data = self.cleaned_data
        appliance = services.save_appliance(
            actor, self.instance, categories=data["categories"], contacts=data["contacts"]
        )
        if data.get("logo"):
            services.set_logo(actor, appliance, data["logo"])
        elif data.get("remove_logo"):
            services.set_logo(actor, appliance, b"")
        return appliance


class VersionForm(ConstraintsInService, ServiceModelForm):
    """A working version. An expiry more than a year ahead is clamped by the service, which says so."""

    expires = UTCDateTimeField(label="Expires (UTC)", required=False, help_text="At most one year ahead.")

    class Meta:
        model = ApplianceVersion
        fields = ["version", "notes", "expires"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3, "maxlength": 1000})}

    def __init__(self, *args, on_note=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_note = on_note

    def _get_validation_exclusions(self):
        # The service clamps the expiry (with a message) and answers a reused version string by name.
        return super()._get_validation_exclusions() | {"expires"}

    def validate_unique(self):
        pass

    def save_with(self, actor):
        version, note = services.save_version(actor, self.instance)
        if note and self.on_note:
            self.on_note(note)
        return version


def _choice_list(value):
    return [item for item in (value or "").split(",") if item]


class ImageForm(ConstraintsInService, ServiceModelForm):
    """An image of a working version; hypervisors and contextualisation formats are picked from lists."""

    hypervisors = forms.MultipleChoiceField(choices=Hypervisor.choices, initial=[Hypervisor.KVM])
    context_formats = forms.MultipleChoiceField(
        choices=ContextFormat.choices, required=False, initial=[ContextFormat.CLOUD_INIT]
    )

    class Meta:
        model = Image
        fields = [
            "title",
            "url",
            "format",
            "declared_size",
            "declared_sha512",
            "arch",
            "os_family",
            "os_name",
            "os_version",
            "hypervisors",
            "ram_minimum",
            "ram_recommended",
            "cores_minimum",
            "cores_recommended",
            "accelerator_type",
            "accelerators_minimum",
            "accelerators_recommended",
            "network_rules",
            "context_formats",
            "description",
            "notes",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3, "maxlength": 2000}),
            "notes": forms.Textarea(attrs={"rows": 2, "maxlength": 1000}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["hypervisors"] = _choice_list(self.instance.hypervisors)
            self.initial["context_formats"] = _choice_list(self.instance.context_formats)

    def clean_hypervisors(self):
        return ",".join(self.cleaned_data["hypervisors"])

    def clean_context_formats(self):
        return ",".join(self.cleaned_data["context_formats"])

    def clean_declared_sha512(self):
        return self.cleaned_data["declared_sha512"].strip().lower()

    def validate_unique(self):
        pass  # the service answers a URL used twice in the version

    def save_with(self, actor):
        return services.save_image(actor, self.instance)


class MessageForm(ActorForm):
    """An author's message to the managers of a VO about their appliance (notifications.message_vo_managers)."""

    vo = forms.ModelChoiceField(queryset=VirtualOrganisation.objects.all(), label="VO", to_field_name="name")
    kind = forms.ChoiceField(
        choices=[("endorse", "Please endorse it"), ("new_version", "A new version is available")], label="Subject"
    )
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=notifications.BODY_MAX, label="Message")

    def save_with(self, actor):
        data = self.cleaned_data
        return notifications.message_vo_managers(actor, self.instance, data["vo"], data["kind"], data["body"])

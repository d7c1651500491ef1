"""Forms of downtimes and service groups; each saves through endpoints.downtimes."""

from datetime import UTC, datetime

from django import forms
from django.core.exceptions import ValidationError

from egiportal.forms import ServiceForm, ServiceModelForm
from sites.models import Scope

from . import downtimes
from .models import Downtime, EndpointLocation, Service, ServiceGroup

DATETIME_FORMATS = (
    "%d/%m/%Y %H:%M",  # GOCDB's portal and write API format
    "%Y-%m-%dT%H:%M",  # what <input type="datetime-local"> sends
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
)


class UTCDateTimeField(forms.DateTimeField):
    """A date and time always read as UTC, whatever the active time zone (GOCDB: input is UTC)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def to_python(self, value):
        if isinstance(value, datetime):
            return value
        value = (value or "").strip()
        if not value:
            return None
        for fmt in DATETIME_FORMATS:
            try:
                return datetime.strptime(value, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
        raise ValidationError("Enter a date and time in UTC as dd/mm/YYYY HH:MM or YYYY-MM-DDTHH:MM.", code="invalid")

    def prepare_value(self, value):
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
        return value


def _same_minute(value, stored):
    """The form shows minutes only; an untouched stored time (with seconds) must stay exactly as it was."""
    return stored is not None and value is not None and value == stored.replace(second=0, microsecond=0)


class DowntimeForm(ServiceModelForm):
    """Declare or edit a downtime. Services and endpoints are offered for one site (see the template);
    any existing ones are accepted here so that the one-site rule answers with GOCDB's message."""

    start = UTCDateTimeField(label="Start (UTC)")
    end = UTCDateTimeField(label="End (UTC)")
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.all(), required=False)
    endpoints = forms.ModelMultipleChoiceField(queryset=EndpointLocation.objects.all(), required=False)

    class Meta:
        model = Downtime
        fields = ["severity", "description", "start", "end"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4, "maxlength": 4000})}

    def __init__(self, *args, site=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.site = site
        self.stored_times = (self.instance.start, self.instance.end) if self.instance.pk else (None, None)
        if self.instance.pk and not self.is_bound:
            self.initial["services"] = [s.pk for s in self.instance.services.all()]
            self.initial["endpoints"] = [e.pk for e in self.instance.endpoints.all()]

    def clean_start(self):
        value = self.cleaned_data["start"]
        return self.stored_times[0] if _same_minute(value, self.stored_times[0]) else value

    def clean_end(self):
        value = self.cleaned_data["end"]
        return self.stored_times[1] if _same_minute(value, self.stored_times[1]) else value

    def selected(self, name):
        """The selected ids of a checkbox group, for re-rendering the tree."""
        if self.is_bound:
            return {str(v) for v in self.data.getlist(name)}
        return {str(v) for v in self.initial.get(name, [])}

    def save_with(self, actor):
        services, endpoints = self.cleaned_data["services"], self.cleaned_data["endpoints"]
        if self.instance.pk:
            return downtimes.edit_downtime(actor, self.instance, services, endpoints)
        return downtimes.declare_downtime(actor, self.instance, services, endpoints)


class ServiceGroupForm(ServiceModelForm):
    scopes = forms.ModelMultipleChoiceField(
        queryset=Scope.objects.all(), required=False, widget=forms.SelectMultiple(attrs={"size": 6})
    )

    class Meta:
        model = ServiceGroup
        fields = ["name", "description", "monitored", "email"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["scopes"] = list(self.instance.scopes.all())

    def validate_unique(self):
        # The service answers a taken name with GOCDB's message.
        pass

    def save_with(self, actor):
        if self.instance.pk:
            return downtimes.update_service_group(actor, self.instance, self.cleaned_data["scopes"])
        return downtimes.create_service_group(actor, self.instance, self.cleaned_data["scopes"])


class GroupServicesForm(ServiceForm):
    """Add and remove member services of a service group."""

    add = forms.ModelMultipleChoiceField(queryset=Service.objects.all(), required=False)
    remove = forms.ModelMultipleChoiceField(queryset=Service.objects.all(), required=False)

    def save_with(self, actor):
        return downtimes.change_group_services(
            actor, self.instance, add=self.cleaned_data["add"], remove=self.cleaned_data["remove"]
        )

from datetime import UTC, datetime

from django import forms
from django.core.exceptions import ValidationError

from egiportal.forms import ActorForm, ServiceModelForm
from sites.choices import Action
from sites.models import Scope, Site

from . import services
from .models import Downtime, EndpointLocation, Service, ServiceGroup


class ServiceForm(ServiceModelForm):
    """Add or edit a service. Only administrators may change the site of an existing service."""

    scopes = forms.ModelMultipleChoiceField(
        queryset=Scope.objects.all(), required=False, widget=forms.SelectMultiple(attrs={"size": 6})
    )

    class Meta:
        model = Service
        fields = [
            "site",
            "service_type",
            "hostname",
            "description",
            "url",
            "production",
            "monitored",
            "beta",
            "notify",
            "email",
            "dn",
            "ip_address",
            "ipv6_address",
            "operating_system",
            "architecture",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        site_field = self.fields["site"]
        if self.instance.pk:
            self.initial["scopes"] = list(self.instance.scopes.all())
            if not (self.actor and self.actor.is_superuser):
                site_field.disabled = True
        else:
            # Offer only the sites where the user may add a service; a preselected site lends its scopes.
            site_field.queryset = Site.objects.visible_to(self.actor, Action.SITE_ADD_SERVICE)
            site = _preselected(site_field.queryset, self.initial.get("site"))
            if site is not None and "scopes" not in self.initial:
                self.initial["scopes"] = list(site.scopes.all())

    def save_with(self, actor):
        return services.save_service(actor, self.instance, scopes=self.cleaned_data["scopes"])


def _preselected(queryset, value):
    try:
        return queryset.filter(pk=int(value)).first() if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class EndpointLocationForm(ServiceModelForm):
    """Add or edit an endpoint location; it always stays with the service it was created for."""

    class Meta:
        model = EndpointLocation
        fields = ["service", "name", "url", "interface_name", "description", "monitored", "email"]

    def __init__(self, *args, **kwargs):
        # The instance's own value (the model default) is in self.initial too: only a value in the
        # URL counts as chosen.
        chosen = "monitored" in (kwargs.get("initial") or {})
        super().__init__(*args, **kwargs)
        field = self.fields["service"]
        self.fields["interface_name"].help_text = "Leave empty to use the service type name."
        if self.instance.pk:
            field.disabled = True
            field.queryset = Service.objects.filter(pk=self.instance.service_id).select_related("service_type")
            return
        field.queryset = Service.objects.visible_to(self.actor, Action.EDIT_OBJECT).select_related("service_type")
        service = _preselected(field.queryset, self.initial.get("service"))
        if service is not None and not chosen:
            # The checkbox always sends a value: it starts at the default that save_endpoint gives.
            default = services.with_endpoint_defaults(EndpointLocation(service=service, monitored=None))
            self.initial["monitored"] = default.monitored

    def _get_validation_exclusions(self):
        # Not the (service, name) constraint: save_endpoint answers a taken name on the name field, naming it.
        return super()._get_validation_exclusions() | {"service"}

    def save_with(self, actor):
        return services.save_endpoint(actor, self.instance)


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
        data = self.cleaned_data
        return services.save_downtime(actor, self.instance, services=data["services"], endpoints=data["endpoints"])


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
        return services.save_service_group(actor, self.instance, scopes=self.cleaned_data["scopes"])


class GroupServicesForm(ActorForm):
    """Add and remove member services of a service group."""

    add = forms.ModelMultipleChoiceField(queryset=Service.objects.all(), required=False)
    remove = forms.ModelMultipleChoiceField(queryset=Service.objects.all(), required=False)

    def save_with(self, actor):
        return services.change_group_services(
            actor, self.instance, add=self.cleaned_data["add"], remove=self.cleaned_data["remove"]
        )

from django import forms

from egiportal.forms import ServiceModelForm
from sites.choices import Action
from sites.models import Scope, Site

from . import services
from .models import EndpointLocation, Service


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
        scopes = self.cleaned_data["scopes"]
        if self.instance.pk:
            return services.update_service(actor, self.instance, scopes)
        return services.create_service(actor, self.instance, scopes)


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
        super().__init__(*args, **kwargs)
        field = self.fields["service"]
        self.fields["interface_name"].help_text = "Leave empty to use the service type name."
        if self.instance.pk:
            field.disabled = True
            field.queryset = Service.objects.filter(pk=self.instance.service_id).select_related("service_type")
            return
        field.queryset = Service.objects.visible_to(self.actor, Action.EDIT_OBJECT).select_related("service_type")
        service = _preselected(field.queryset, self.initial.get("service"))
        if service is not None and "monitored" not in self.initial:
            # As GOCDB's write API does, a new endpoint follows its service's monitoring flag.
            self.initial["monitored"] = service.monitored

    def clean_name(self):
        # Say which name clashes, on the name field, instead of the model's generic constraint error.
        name = self.cleaned_data["name"]
        service = self.instance.service if self.instance.pk else self.cleaned_data.get("service")
        message = service and services.endpoint_name_clash(service, name, self.instance.pk)
        if message:
            raise forms.ValidationError(message)
        return name

    def save_with(self, actor):
        if self.instance.pk:
            return services.update_endpoint(actor, self.instance)
        return services.create_endpoint(actor, self.instance)

from django import forms

from egiportal.forms import ActorForm, ServiceModelForm

from . import services
from .choices import CertificationStatus
from .models import NGI, Scope, Site


class SiteForm(ServiceModelForm):
    scopes = forms.ModelMultipleChoiceField(
        queryset=Scope.objects.all(), required=False, widget=forms.SelectMultiple(attrs={"size": 6})
    )
    child_scope_action = forms.ChoiceField(
        choices=services.ChildScopeAction.choices,
        initial=services.ChildScopeAction.NO_MODIFY,
        label="Scopes of the site's services",
        required=False,
    )

    class Meta:
        model = Site
        fields = [
            "short_name",
            "official_name",
            "ngi",
            "country",
            "infrastructure",
            "description",
            "domain",
            "home_url",
            "giis_url",
            "email",
            "telephone",
            "emergency_email",
            "emergency_tel",
            "helpdesk_email",
            "csirt_email",
            "csirt_tel",
            "ip_range",
            "ipv6_range",
            "latitude",
            "longitude",
            "location",
            "timezone",
            "notify",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["scopes"] = list(self.instance.scopes.all())
        else:
            del self.fields["child_scope_action"]
            # Offer only the NGIs where the user may add a site.
            self.fields["ngi"].queryset = NGI.objects.visible_to(self.actor, "ngi_add_site")

    def save_with(self, actor):
        action = self.cleaned_data.get("child_scope_action") or services.ChildScopeAction.NO_MODIFY
        return services.save_site(actor, self.instance, scopes=self.cleaned_data["scopes"], child_scope_action=action)


class CertificationForm(ActorForm):
    new_status = forms.ChoiceField(choices=CertificationStatus.choices, label="New status")
    reason = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 3}))

    def save_with(self, actor):
        services.change_certification(
            actor, self.instance, self.cleaned_data["new_status"], self.cleaned_data["reason"]
        )
        return self.instance

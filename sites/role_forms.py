"""Forms of the role pages."""

from django import forms

from egiportal.forms import ActorForm

from . import services
from .choices import RoleType
from .roles import REQUESTABLE


class RoleRequestForm(ActorForm):
    """Pick one of the role types that may be requested on the entity (`instance`, a concrete entity)."""

    role_type = forms.ChoiceField(label="Role", choices=())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role_type"].choices = [(r, RoleType(r).label) for r in REQUESTABLE[self.instance.KIND]]

    def save_with(self, actor):
        return services.request_role(actor, self.instance, self.cleaned_data["role_type"])

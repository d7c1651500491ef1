"""Form bases: Bootstrap styling and the `save_with(actor)` hook that calls a service."""

from django import forms
from django.core.exceptions import ValidationError

from . import services
from .filtersets import style_widgets


class StyledMixin:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_widgets(self)


class ServiceModelForm(StyledMixin, forms.ModelForm):
    """A ModelForm whose model validation runs as usual but whose save goes through a service."""

    def __init__(self, *args, actor=None, **kwargs):
        self.actor = actor
        super().__init__(*args, **kwargs)

    def save(self, commit=True):
        raise NotImplementedError("Use save_with(actor): writes go through services.")

    def save_with(self, actor):
        raise NotImplementedError


class ActorForm(StyledMixin, forms.Form):
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

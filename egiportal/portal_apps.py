"""What the core needs from the portal apps, read from their AppConfigs (django.apps) rather than
imported: an app takes part by setting `portal_app = True` on its AppConfig, and may declare

- `audit_actions`: (value, label) pairs of its own audit actions, beside the core's created/updated/deleted;
- `home_counters(self)`: (label, number) pairs for the home page;
- `home_panels(self)`: (template name, context) pairs rendered below the counters on the home page (the
  template sees the context as `panel`);
- `profile_panels(self, user)`: the same for the profile page of `user` (their roles, for `sites`);
- `object_panels(self, obj, user)`: the same for the page of any object `obj` as `user` sees it: every
  detail page (ObjectDetailView adds them to its context as `object_panels`; the templates include
  "egiportal/inc/object_panels.html") and a VO's page (its endorsed images and the cloud sites that support
  it, for `appliances`; its usage, for `accounting`). What a panel shows must pass `visible_to(user)`. An
  app answers [] quickly for the objects it has nothing about (compare `obj._meta.label`, so that no app
  imports another one for it).

The change list offers the models of these apps as object types.
"""

from django.apps import apps

from .choices import AuditAction


def portal_apps():
    """The AppConfigs of the installed portal apps, in INSTALLED_APPS order."""
    return [config for config in apps.get_app_configs() if getattr(config, "portal_app", False)]


def app_labels():
    return [config.label for config in portal_apps()]


def audit_actions():
    """Every audit action as (value, label): the core's, then each portal app's."""
    actions = list(AuditAction.choices)
    for config in portal_apps():
        actions.extend(getattr(config, "audit_actions", ()))
    return actions


def audit_action_label(value):
    return dict(audit_actions()).get(value, value)


def home_counters():
    return [
        counter for config in portal_apps() if hasattr(config, "home_counters") for counter in config.home_counters()
    ]


def home_panels():
    return [panel for config in portal_apps() if hasattr(config, "home_panels") for panel in config.home_panels()]


def profile_panels(user):
    return [
        panel for config in portal_apps() if hasattr(config, "profile_panels") for panel in config.profile_panels(user)
    ]


def object_panels(obj, user):
    return [
        panel
        for config in portal_apps()
        if hasattr(config, "object_panels")
        for panel in config.object_panels(obj, user)
    ]


def private_audit_models(flag="audit_private"):
    """The models that set `flag` to True: `audit_private` (their audit entries are for portal
    administrators only) or `audit_personal` (for those who may see personal data)."""
    return [model for model in apps.get_models() if getattr(model, flag, False)]

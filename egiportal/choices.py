from django.db import models


class AuditAction(models.TextChoices):
    """The audit actions every model has. Apps add their own (role grants, certification changes, ...)
    in their choices.py and list them as `audit_actions` on their AppConfig (egiportal.portal_apps)."""

    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"

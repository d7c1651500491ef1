from django.db import models


class Severity(models.TextChoices):
    OUTAGE = "OUTAGE", "Outage"
    WARNING = "WARNING", "Warning (at risk)"


class Classification(models.TextChoices):
    SCHEDULED = "SCHEDULED", "Scheduled"
    UNSCHEDULED = "UNSCHEDULED", "Unscheduled"


class AuditAction(models.TextChoices):
    """The audit actions of this app, beside the core's created/updated/deleted."""

    DOWNTIME_END = "downtime_end", "Downtime ended"

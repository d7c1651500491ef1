from django.db import models


class Severity(models.TextChoices):
    OUTAGE = "OUTAGE", "Outage"
    WARNING = "WARNING", "Warning (at risk)"


class Classification(models.TextChoices):
    SCHEDULED = "SCHEDULED", "Scheduled"
    UNSCHEDULED = "UNSCHEDULED", "Unscheduled"

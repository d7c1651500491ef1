from django.db import models


class MessageKind(models.TextChoices):
    """The message kinds a cloud accounting server receives (accounting.md §0.1, §1)."""

    CLOUD = "cloud", "APEL cloud records"
    CLOUD_SUMMARY = "cloud_summary", "APEL cloud summaries"
    IP = "ip", "Public IP records"
    ACCELERATOR = "accelerator", "Accelerator records"
    STORAGE = "storage", "StAR storage records"


class MessageState(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"

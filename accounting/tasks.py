"""Background jobs of accounting: thin Celery tasks that take ids and call a service."""

from celery import shared_task

from egiportal.outbox import OutboxTask

from . import services


@shared_task(base=OutboxTask, ignore_result=True)
def summarise_site(site_id):
    """Rebuild a site's summaries after one of its messages was stored."""
    services.summarise_site(site_id)


@shared_task(ignore_result=True)
def summarise_all():
    """The nightly rebuild of every summary."""
    services.summarise()


@shared_task(ignore_result=True)
def receive_queue():
    """Store what an SSM receiver wrote into ACCOUNTING_DIRQ_PATH (scheduled only when it is set)."""
    from django.conf import settings

    from . import receiver

    if settings.ACCOUNTING_DIRQ_PATH:
        result = receiver.receive(settings.ACCOUNTING_DIRQ_PATH)
        return {"accepted": result.accepted, "duplicates": result.duplicates, "rejected": len(result.rejected)}
    return None

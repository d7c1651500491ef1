"""Background jobs of the core: the outbox relay, run periodically by celery beat (CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from . import outbox


@shared_task(ignore_result=True)
def relay_outbox(min_age=None):
    """Hand again to the broker the outbox messages that never reached a worker (egiportal.outbox.relay)."""
    return outbox.relay(min_age)

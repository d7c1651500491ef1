"""The transactional outbox: work that a change asks for is neither lost nor done twice.

`enqueue("sites.tasks.notify_role_request", role.pk)`, called inside the change's transaction, writes an
OutboxMessage row with the change; after commit the row is handed to the broker (in eager mode the task
runs at once). When the broker cannot be reached the row stays pending and the periodic relay
(egiportal.tasks.relay_outbox in CELERY_BEAT_SCHEDULE) hands it over again later.

Tasks run this way are OutboxTasks: acknowledged only once they are over (a worker killed mid-task leaves
its message to be delivered again), retried with backoff on transient errors, and each run locks its row
and marks it done in the transaction of its work, so a second delivery of the same message does nothing.
"""

import logging
from datetime import timedelta

from celery import Task
from celery.exceptions import Retry
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import OutboxMessage

logger = logging.getLogger(__name__)

# Worth another try later: a mail server or network that is down or slow (smtplib's errors are OSErrors),
# a database that restarts.
TRANSIENT_ERRORS = (OSError, OperationalError, InterfaceError)


class OutboxTask(Task):
    """Base of the tasks that must happen (`@shared_task(base=OutboxTask)`): late acknowledgement, retries
    with exponential backoff, and exactly one completed run per outbox row."""

    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = True  # 1 s, 2 s, 4 s ... with jitter, at most retry_backoff_max
    retry_backoff_max = 600  # below the broker's visibility timeout, so a waiting retry is not delivered twice
    max_retries = 8
    typing = False  # run() does not take the outbox_id that __call__ does; enqueue() checks the arguments

    def __call__(self, *args, outbox_id=None, **kwargs):
        if outbox_id is None:  # called directly, not through the outbox
            return super().__call__(*args, **kwargs)
        OutboxMessage.objects.filter(pk=outbox_id, done_at=None).update(attempts=F("attempts") + 1)
        try:
            with transaction.atomic():
                message = OutboxMessage.objects.select_for_update().filter(pk=outbox_id, done_at=None).first()
                if message is None:
                    logger.info("Outbox message %s is done already: %s not run again", outbox_id, self.name)
                    return None
                # run() and not super().__call__(), which would replace the worker's request (its retry
                # count, its kwargs with the outbox_id that a retry must carry) with a bare one.
                result = self.run(*args, **kwargs)
                message.done_at = timezone.now()
                message.last_error = ""
                message.save(update_fields=["done_at", "last_error"])
                return result
        except Exception as exc:
            _record_error(outbox_id, exc)
            raise


def _record_error(pk, error, **fields):
    if isinstance(error, Retry) and error.exc is not None:
        error = error.exc  # the error that made the run retry, not the retry itself
    OutboxMessage.objects.filter(pk=pk).update(last_error=f"{type(error).__name__}: {error}"[:2000], **fields)


def _task(name):
    """The OutboxTask named by a dotted path; anything else is a programming error, raised at enqueue time."""
    task = import_string(name)
    if not isinstance(task, OutboxTask):
        raise TypeError(f"{name} is not a task with base=OutboxTask: nothing would mark its outbox rows done")
    return task


def enqueue(task_name, *args):
    """Ask for `task_name(*args)` to run once, with the current transaction: the row is written now and
    handed to the broker after commit (never if the transaction rolls back). `args` must be JSON (ids)."""
    _task(task_name).__header__(*args)  # wrong arguments fail here, in the change, not later in a worker
    message = OutboxMessage.objects.create(task=task_name, args=list(args))
    transaction.on_commit(lambda: _send(message))
    return message


def _send(message):
    """Hand one message to the broker (in eager mode: run it). After commit nothing may undo the change,
    so a broker that cannot be reached, or an eager run that fails, leaves the row pending for the relay."""
    OutboxMessage.objects.filter(pk=message.pk).update(dispatched_at=timezone.now())
    try:
        _task(message.task).apply_async(message.args, {"outbox_id": message.pk}, retry=False)
    except Exception as exc:
        logger.warning("Outbox message %s (%s) left for the relay: %s", message.pk, message.task, exc)
        _record_error(message.pk, exc, dispatched_at=None)


def relay(min_age=None, limit=500):
    """Hand again to the broker the pending messages not handed over for `min_age` seconds (default
    OUTBOX_RELAY_AFTER): those whose publication failed and those whose delivery was lost. Returns how many."""
    age = settings.OUTBOX_RELAY_AFTER if min_age is None else min_age
    cutoff = timezone.now() - timedelta(seconds=age)
    pending = OutboxMessage.objects.filter(
        done_at=None, created__lte=cutoff, attempts__lt=settings.OUTBOX_MAX_ATTEMPTS
    ).filter(Q(dispatched_at=None) | Q(dispatched_at__lte=cutoff))
    with transaction.atomic():
        # A row that a worker is running now is locked: skip it rather than wait for that run.
        messages = list(pending.select_for_update(skip_locked=True).order_by("created", "id")[:limit])
    for message in messages:
        _send(message)
    return len(messages)

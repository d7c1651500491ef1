"""The transactional outbox (egiportal.outbox) in eager mode: written with the change, run once after commit,
retried with backoff, left pending when the broker is down and relayed later. The real-worker tests (a
killed worker, an unreachable Redis) are in sites/tests/test_tasks_worker.py."""

from datetime import timedelta

import pytest
from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from egiportal import outbox
from egiportal.celery import app
from egiportal.models import OutboxMessage, User

pytestmark = pytest.mark.django_db

RECORD = "egiportal.tests.test_outbox.record"
FLAKY = "egiportal.tests.test_outbox.flaky"
runs = []
failures_left = {}


@shared_task(base=outbox.OutboxTask)
def record(name):
    """Leaves a trace in the database (a user) and in `runs`, so a test sees whether and how often it ran."""
    runs.append(name)
    User.objects.create(username=name)


@shared_task(base=outbox.OutboxTask, retry_backoff=False, default_retry_delay=0)
def flaky(name):
    """Fails with a transient error (a mail server that is down) while failures_left[name] > 0."""
    runs.append(name)
    if failures_left.get(name, 0) > 0:
        failures_left[name] -= 1
        raise ConnectionRefusedError("mail server down")
    User.objects.create(username=name)


@shared_task
def plain(name):
    """Not an OutboxTask: nothing would mark its rows done."""


@pytest.fixture(autouse=True)
def clean_state(eager_tasks):
    runs.clear()
    failures_left.clear()


def test_the_message_is_written_with_the_change_and_run_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            message = outbox.enqueue(RECORD, "alice")
            assert OutboxMessage.objects.filter(pk=message.pk, done_at=None).exists()
            assert runs == []  # nothing runs before the change is committed
    assert len(callbacks) == 1
    assert runs == ["alice"]
    message.refresh_from_db()
    assert (message.task, message.args, message.attempts, message.last_error) == (RECORD, ["alice"], 1, "")
    assert message.done_at is not None and message.dispatched_at is not None
    assert User.objects.filter(username="alice").exists()


def test_a_rolled_back_change_leaves_no_message_and_no_run(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                outbox.enqueue(RECORD, "bob")
                raise RuntimeError("the change fails")
    assert not OutboxMessage.objects.exists()
    assert runs == []


def test_a_second_delivery_of_a_done_message_does_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.enqueue(RECORD, "carol")
    record.apply_async(["carol"], {"outbox_id": message.pk})  # the broker delivers it again
    record.apply(["carol"], {"outbox_id": message.pk})
    assert runs == ["carol"]
    assert User.objects.filter(username="carol").count() == 1
    message.refresh_from_db()
    assert message.attempts == 1  # the runs that found it done do not count


def test_a_failed_run_leaves_the_message_pending_for_the_relay(django_capture_on_commit_callbacks, caplog):
    """In eager mode (no broker) a transient failure is not retried in the request: the relay runs it again."""
    failures_left["dave"] = 1
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.enqueue(FLAKY, "dave")
    message.refresh_from_db()
    assert runs == ["dave"]
    assert message.done_at is None and message.dispatched_at is None
    assert (message.attempts, message.last_error) == (1, "ConnectionRefusedError: mail server down")
    assert "left for the relay" in caplog.text
    assert not User.objects.filter(username="dave").exists()

    assert outbox.relay(min_age=0) == 1  # the mail server is back
    message.refresh_from_db()
    assert runs == ["dave", "dave"]
    assert message.done_at is not None and (message.attempts, message.last_error) == (2, "")
    assert User.objects.filter(username="dave").count() == 1


def test_transient_errors_are_retried_until_the_task_gives_up(django_capture_on_commit_callbacks):
    """Every retry runs with the same outbox row; after max_retries the row keeps the error for the relay."""
    app.conf.task_eager_propagates = False  # as in a worker: a retry is a new run, not an exception
    failures_left["erin"] = 100
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.enqueue(FLAKY, "erin")
    message.refresh_from_db()
    assert len(runs) == flaky.max_retries + 1
    assert message.done_at is None and message.attempts == flaky.max_retries + 1
    assert message.last_error == "ConnectionRefusedError: mail server down"

    failures_left["erin"] = 2
    runs.clear()
    flaky.apply(["erin"], {"outbox_id": message.pk})
    message.refresh_from_db()
    assert runs == ["erin"] * 3 and message.done_at is not None


def test_tasks_that_must_happen_are_acknowledged_late_and_retried_with_backoff():
    from sites.tasks import notify_role_request as task

    assert task.acks_late and task.reject_on_worker_lost
    assert task.retry_backoff and task.max_retries and task.retry_backoff_max
    assert issubclass(ConnectionRefusedError, task.autoretry_for)  # smtplib's errors are OSErrors too
    # A waiting retry is held unacknowledged by the worker: it must come before Redis delivers it again.
    assert task.retry_backoff_max < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


def test_a_failed_run_rolls_back_its_own_writes(django_capture_on_commit_callbacks):
    """The work and the done mark are one transaction: a run that fails after writing leaves neither."""
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.enqueue(RECORD, "frank")
    OutboxMessage.objects.filter(pk=message.pk).update(done_at=None)
    with pytest.raises(IntegrityError):  # the username is taken: not a transient error, no retry
        record.apply(["frank"], {"outbox_id": message.pk}, throw=True)
    message.refresh_from_db()
    assert message.done_at is None and "IntegrityError" in message.last_error
    assert User.objects.filter(username="frank").count() == 1


def test_the_relay_hands_over_only_old_pending_messages():
    now = timezone.now()
    old = now - timedelta(seconds=settings.OUTBOX_RELAY_AFTER + 5)

    def row(name, **fields):
        message = OutboxMessage.objects.create(task=RECORD, args=[name])
        OutboxMessage.objects.filter(pk=message.pk).update(**{"created": old, **fields})
        return message

    never_sent = row("never-sent")
    lost = row("lost", dispatched_at=old)
    row("young", created=now)
    row("just-dispatched", dispatched_at=now)
    row("done", done_at=now)
    row("given-up", attempts=settings.OUTBOX_MAX_ATTEMPTS)

    assert outbox.relay() == 2
    assert sorted(runs) == ["lost", "never-sent"]
    assert not OutboxMessage.objects.filter(pk__in=[never_sent.pk, lost.pk], done_at=None).exists()
    assert outbox.relay() == 0  # done now


def test_the_relay_runs_periodically():
    entry = settings.CELERY_BEAT_SCHEDULE["relay-outbox"]
    assert entry["schedule"] == settings.OUTBOX_RELAY_INTERVAL
    OutboxMessage.objects.create(task=RECORD, args=["grace"])
    import_string(entry["task"]).delay(min_age=0)
    assert runs == ["grace"]


@pytest.mark.parametrize(
    "task, args, error",
    [
        ("egiportal.tests.test_outbox.plain", ("x",), "not a task with base=OutboxTask"),
        (RECORD, ("x", "y"), "takes 1 positional argument but 2"),
        (RECORD, (), "missing 1 required positional argument"),
        ("egiportal.tests.test_outbox.nothing_here", ("x",), "does not define"),
    ],
)
def test_enqueue_refuses_what_could_never_run(task, args, error):
    with pytest.raises((TypeError, ImportError), match=error):
        outbox.enqueue(task, *args)
    assert not OutboxMessage.objects.exists()

"""Background jobs of the marketplace: thin Celery tasks that take ids and call a service."""

from celery import shared_task

from egiportal.outbox import OutboxTask

from . import notifications, services


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def run_integrity_check(job_id):
    """Download and check the images of integrity job `job_id`. The job row is its own record of delivery
    (services._claim): a second delivery does nothing, and a run whose worker died is resumed by
    `resume_integrity_checks`, so the message is acknowledged late and requeued if its worker is lost."""
    services.run_integrity_check(job_id)


@shared_task(ignore_result=True)
def resume_integrity_checks():
    return services.resume_integrity_checks()


@shared_task(ignore_result=True)
def send_notifications():
    """The daily e-mails: VO managers about their published lists, authors about expiring versions."""
    return notifications.send_all()


@shared_task(base=OutboxTask, ignore_result=True)
def deliver_vo_message(sender_id, appliance_id, vo_id, subject, body):
    """An author's message to a VO's managers (notifications.message_vo_managers)."""
    return notifications.deliver_vo_message(sender_id, appliance_id, vo_id, subject, body)

"""Background jobs of the sites app: thin Celery tasks that take ids and call a service."""

from celery import shared_task

from egiportal.outbox import OutboxTask

from . import services


@shared_task(base=OutboxTask, ignore_result=True)
def notify_role_request(role_id):
    """E-mail the people who may approve role request `role_id` (specs/gocdb.md §5.6)."""
    return services.send_role_request_notification(role_id)

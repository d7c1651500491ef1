"""The Celery application; tasks are discovered in each app's tasks.py."""

import os
import uuid

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "egiportal.settings")

app = Celery("egiportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def enter_task_context(task_id=None, task=None, **kwargs):
    """Audit rows written by one task share an id of their own (the task id), as a web request's do."""
    from .context import request_id

    try:
        value = uuid.UUID(str(task_id))
    except ValueError:
        value = uuid.uuid4()
    task.request.request_id_token = request_id.set(value)


@task_postrun.connect
def leave_task_context(task=None, **kwargs):
    """Restore the caller's id (eager tasks run inside a web request)."""
    from .context import request_id

    token = getattr(task.request, "request_id_token", None)
    if token is not None:
        request_id.reset(token)

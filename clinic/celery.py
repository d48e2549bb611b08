"""The Celery app. Worker: `celery -A clinic worker`; beat: `celery -A clinic beat`."""

import os

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def close_old_database_connections(task=None, **kwargs) -> None:
    """Before each task, what Django does before each request: close the connection if it
    is older than CONN_MAX_AGE or broken, and health-check it at its next use. Celery's own
    closing is held back (CELERY_DB_REUSE_MAX), so a worker keeps its connection. A task
    run in-process (eagerly) uses its caller's connection, which is left alone."""
    from django.db import close_old_connections

    if not getattr(task.request, "is_eager", False):
        close_old_connections()

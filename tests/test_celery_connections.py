"""A worker keeps its database connection from task to task, as the web keeps one between
requests (CONN_MAX_AGE): a batch of emails does not start a new PostgreSQL backend."""

import time

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from clinic.celery import app as celery_app
from clinic.celery import close_old_database_connections
from followup.tasks import send_invitations

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_it_keeps_a_workers_database_connection_from_task_to_task(monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)  # as in production
    fixup = DjangoWorkerFixup(celery_app)
    connection.close()
    connection.ensure_connection()
    held = connection.connection
    for _task in range(3):
        fixup.on_task_prerun(sender=send_invitations)
        close_old_database_connections(task=send_invitations)
        connection.ensure_connection()
        fixup.on_task_postrun(sender=send_invitations)
    assert connection.connection is held


def test_it_closes_a_connection_older_than_conn_max_age_before_a_task():
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1
    close_old_database_connections(task=send_invitations)
    assert connection.connection is None

"""`make bench` times the dispatcher: a tiny run keeps the command working."""

import io
import re

import pytest
from django.core.management import call_command

from clinic.models import Site
from followup.models import Invitation

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_it_times_the_dispatcher_with_one_and_two_worker_processes_against_a_no_op():
    out = io.StringIO()
    call_command("bench_dispatch", emails=10, noops=20, rounds=1, stdout=out)
    text = out.getvalue()
    assert "10 rows claimed and published in 5 messages" in text
    for line in ("no-op task, 1 worker process", "dispatcher, 1 worker process", "2 worker"):
        assert re.search(rf"{line}.*\d+ (tasks|emails)/s", text), text
    opened, closed = map(int, re.search(r"SMTP connections: (\d+) .* (\d+) closed", text).groups())
    assert 2 <= opened <= 3 and closed == opened  # one per sending process, each said QUIT
    # One message of two appointment reminders: six queries read it, then one or two a send.
    assert re.search(r"queries: 4.50 a send \(9 for 2 emails in 1 message sent", text), text
    assert re.search(r"of the no-op rate \(target 25%: (met|NOT met)\)", text), text
    assert re.search(r"x one process \(target above 1: (met|NOT met)\)", text), text
    assert re.search(r"load average: [\d.]+ before, [\d.]+ after", text), text
    assert not Invitation.objects.exists()
    assert not Site.objects.filter(name__startswith="[bench-dispatch]").exists()

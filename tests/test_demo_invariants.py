"""The demo clinic does not contradict itself: every appointment within its site's opening
hours, no patient with the same procedure on the same or the next day, and nothing created
after its own history (an appointment is booked before it is checked in, started...).

Seeded with the clock at half past ten on a weekday morning in Copenhagen, when the
recovery board's patients of "now" are inside the day too (seeded late in the evening, the
board still shows a patient in procedure, necessarily after closing time).
"""

import datetime
import io
import zoneinfo
from collections import defaultdict

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from scheduling.models import Appointment, AppointmentEvent

pytestmark = pytest.mark.django_db
COPENHAGEN = zoneinfo.ZoneInfo("Europe/Copenhagen")


@pytest.fixture
def weekday_morning(monkeypatch):
    """The clock at 10:30 in Copenhagen on the last weekday that is no public holiday,
    still ticking."""
    real_now = timezone.now
    local = timezone.localtime(real_now(), COPENHAGEN)
    target = local.replace(hour=10, minute=30, second=0, microsecond=0)
    while target.weekday() >= 5 or (target.month, target.day) in {(12, 25), (12, 26), (1, 1)}:
        target -= datetime.timedelta(days=1)
    offset = target - local
    monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)
    return target


@pytest.fixture
def demo(settings, weekday_morning):
    settings.DEMO_LOGINS_ALLOWED = True
    call_command("seed_demo", "--patients", "120", stdout=io.StringIO(), stderr=io.StringIO())
    return list(
        Appointment.objects.select_related("site", "patient", "procedure_type").prefetch_related(
            "site__opening_hours"
        )
    )


def test_it_tells_the_planner_how_many_rows_it_wrote(demo):
    """Before the late phases read them: planned on the statistics of tables as they were
    (empty, or emptied by a rolled-back test), the recall rows' query took minutes wherever
    autovacuum runs, as on a fresh Debian PostgreSQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE relname = %s", [Appointment._meta.db_table]
        )
        (estimate,) = cursor.fetchone()
    assert estimate >= 0.9 * len(demo)


def test_it_keeps_every_appointment_within_its_sites_opening_hours(demo):
    outside = []
    for appointment in demo:
        zone = appointment.site.zone
        starts = timezone.localtime(appointment.starts_at, zone)
        last = max(appointment.ends_at, appointment.recovery_ends_at or appointment.ends_at)
        ends = timezone.localtime(last, zone)
        hours = {row.weekday: row for row in appointment.site.opening_hours.all()}
        day = hours.get(starts.weekday())
        if (
            day is None
            or starts.time() < day.opens
            or ends.date() != starts.date()
            or ends.time() > day.closes
        ):
            outside.append(f"{appointment.pk} {appointment.site} {starts:%a %H:%M}-{ends:%H:%M}")
    assert outside == []


def test_it_never_gives_a_patient_the_same_procedure_on_the_same_or_the_next_day(demo):
    by_patient = defaultdict(list)
    for appointment in demo:
        key = (appointment.patient_id, appointment.procedure_type_id)
        by_patient[key].append(timezone.localtime(appointment.starts_at).date())
    repeats = []
    for (patient, procedure_type), days in by_patient.items():
        days.sort()
        repeats += [
            (patient, procedure_type, first, second)
            for first, second in zip(days, days[1:], strict=False)
            if (second - first).days <= 1
        ]
    assert repeats == []
    # One visit a day for each patient.
    visits = defaultdict(int)
    for appointment in demo:
        visits[appointment.patient_id, timezone.localtime(appointment.starts_at).date()] += 1
    assert [key for key, count in visits.items() if count > 1] == []


def test_it_creates_every_appointment_before_its_history(demo):
    first_event = {}
    for event in AppointmentEvent.objects.order_by("at"):
        first_event.setdefault(event.appointment_id, event)
    late = []
    for appointment in demo:
        event = first_event.get(appointment.pk)
        assert event is not None, f"appointment {appointment.pk} has no history"
        assert event.kind == AppointmentEvent.Kind.BOOKED, (appointment.pk, event.kind)
        if appointment.created_at > event.at or appointment.created_at > appointment.starts_at:
            late.append((appointment.pk, appointment.created_at, event.at))
        if appointment.checked_in_at and appointment.checked_in_at < appointment.created_at:
            late.append((appointment.pk, appointment.created_at, appointment.checked_in_at))
        first_row = appointment.history.filter(history_type="+").first()
        if first_row and first_row.history_date > event.at:
            late.append((appointment.pk, "history row", first_row.history_date, event.at))
    assert late == []

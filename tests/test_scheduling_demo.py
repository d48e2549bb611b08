"""The scheduling demo data: sessions, exceptions and three weeks of appointments."""

import datetime
import io
from collections import Counter

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from clinic.management.commands.seed_demo import seed_patients, seed_sites, seed_staff
from scheduling import demo, rules
from scheduling.models import (
    Appointment,
    AppointmentEvent,
    PhysicianSession,
    Status,
    Unavailability,
)


@pytest.fixture
def demo_clinic(db):
    seed_sites()
    seed_staff()
    seed_patients()


def demo_appointments():
    return Appointment.objects.filter(notes__startswith=demo.DEMO_NOTE)


def test_it_seeds_three_weeks_of_appointments_around_today(demo_clinic):
    results = demo.seed()

    appointments = list(demo_appointments().select_related("site"))
    assert results["appointments"].created == len(appointments)
    today = timezone.localdate()
    days = Counter((a.site.name, a.local_start.date()) for a in appointments)
    assert min(day for _, day in days) >= today - datetime.timedelta(days=10)
    assert max(day for _, day in days) <= today + datetime.timedelta(days=10)
    assert all(day.weekday() < 5 for _, day in days)
    assert max(days.values()) <= 15
    assert sorted(days.values())[len(days) // 2] >= 8, "a typical site-day holds 8 or more"
    for appointment in appointments:
        day = appointment.local_start.date()
        if day < today:
            assert appointment.status in {Status.COMPLETED, Status.NO_SHOW}
        elif day > today:
            assert appointment.status in {Status.BOOKED, Status.CONFIRMED}
    assert {a.procedure_type.category for a in appointments} >= {"therapeutic", "diagnostic"}
    # Each has its one "booked" event.
    events = AppointmentEvent.objects.filter(appointment__in=appointments)
    assert events.count() == len(appointments)
    assert set(events.values_list("kind", flat=True)) == {AppointmentEvent.Kind.BOOKED}


def test_it_gives_each_demo_physician_weekly_sessions_and_adds_exceptions(demo_clinic):
    demo.seed()
    per_physician = dict(
        PhysicianSession.objects.values_list("physician__username").annotate(Count("pk"))
    )
    assert per_physician == {"dr.holm": 5, "dr.nielsen": 5, "dr.larsen": 5, "dr.okafor": 5}
    reasons = set(Unavailability.objects.values_list("reason", flat=True))
    assert reasons == {"public_holiday", "conference", "maintenance"}


def test_it_books_only_what_the_booking_rules_allow(demo_clinic):
    demo.seed()
    for appointment in demo_appointments().select_related(
        "patient", "procedure_type", "physician__staff_profile", "room__site"
    ):
        windows = rules.windows_for(appointment.procedure_type, appointment.starts_at)
        assert (windows.ends_at, windows.recovery_ends_at) == (
            appointment.ends_at,
            appointment.recovery_ends_at,
        )
        refusals = rules.check_booking(
            patient=appointment.patient,
            procedure_type=appointment.procedure_type,
            physician=appointment.physician,
            room=appointment.room,
            windows=windows,
            laterality=appointment.laterality,
            levels=appointment.levels,
            exclude_pk=appointment.pk,
            now=appointment.starts_at,
        )
        assert refusals == [], appointment
        bay = rules.free_recovery_bay(
            appointment.site,
            windows,
            exclude_pk=appointment.pk,
            preferred=appointment.recovery_bay,
        )
        assert bay == appointment.recovery_bay


def test_it_creates_nothing_the_second_time(demo_clinic):
    demo.seed()
    models = [Appointment, AppointmentEvent, PhysicianSession, Unavailability]
    before = {model: model.objects.count() for model in models}
    history_before = Appointment.history.count()

    results = demo.seed()

    assert {model: model.objects.count() for model in models} == before
    assert Appointment.history.count() == history_before
    assert sum(seeded.created + seeded.updated for seeded in results.values()) == 0
    assert results["appointments"].existing == before[Appointment]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_runs_the_benchmark_on_a_small_clinic_and_leaves_nothing_behind():
    out = io.StringIO()
    call_command("bench", appointments=300, repeat=1, stdout=out)
    report = out.getvalue()
    assert "find_slots" in report and "Day board" in report
    assert "Rolled back" in report
    assert not Appointment.objects.exists()

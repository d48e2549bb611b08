"""The demo perioperative records: complete for past appointments, every board state today."""

import datetime
import io
import zoneinfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from clinic.models import Site
from clinic.nursing import rules
from clinic.nursing.demo import BOARD_NOTE
from clinic.nursing.models import (
    ChecklistAnswer,
    Discharge,
    DischargeAssessment,
    Escalation,
    ObservationRound,
    TimeOutConfirmation,
)
from clinic.nursing.selectors import recovery_board
from scheduling.models import Appointment, Status

RECORD_MODELS = [
    ChecklistAnswer,
    TimeOutConfirmation,
    ObservationRound,
    Escalation,
    DischargeAssessment,
    Discharge,
]


@pytest.fixture
def seeded(settings, db):
    settings.DEMO_LOGINS_ALLOWED = True
    call_command("seed_demo", "--patients", "120", stdout=io.StringIO(), stderr=io.StringIO())


def counts():
    return {model.__name__: model.objects.count() for model in RECORD_MODELS}


def test_it_gives_every_completed_appointment_a_complete_record(seeded):
    completed = Appointment.objects.filter(status=Status.COMPLETED)
    assert completed.exists()
    for appointment in completed.select_related("procedure_type")[:40]:
        assert rules.start_blockers(appointment) == []
        assert not rules.checklist_state(appointment).incomplete(["sign_out"])
        protocol = rules.protocol_for(appointment.procedure_type)
        assert appointment.observation_rounds.count() == protocol.observation_count
        assert appointment.discharge.instructions
        assert appointment.discharge_assessments.get().is_ready
        assert appointment.events.filter(to_status=Status.IN_RECOVERY).exists()


def test_it_puts_patients_in_every_state_on_todays_board(seeded):
    now = timezone.now()
    for site in Site.objects.filter(active=True):
        sections = {
            s["key"]: s["rows"]
            for s in recovery_board(site=site, day=timezone.localtime(now, site.zone).date())
        }
        for key in ("waiting", "checks", "procedure", "recovery", "discharged"):
            assert sections[key], f"{site}: nobody in {key}"
        recovery = sections["recovery"]
        assert any(row.overdue for row in recovery), site
        assert any(row.escalation for row in recovery), site
        escalated = next(row for row in recovery if row.escalation).appointment
        assert Escalation.objects.filter(round__appointment=escalated).exists()


def test_it_changes_nothing_when_seeded_again(seeded):
    before = counts()
    statuses = dict(Appointment.objects.values_list("pk", "status"))

    call_command("seed_demo", "--patients", "120", stdout=io.StringIO(), stderr=io.StringIO())

    assert counts() == before
    assert dict(Appointment.objects.values_list("pk", "status")) == statuses


@pytest.fixture
def late_evening(monkeypatch):
    """The clock at 23:50 in Copenhagen today, still ticking."""
    real_now = timezone.now
    # The demo sites are in Copenhagen; they do not exist before the seed.
    zone = zoneinfo.ZoneInfo("Europe/Copenhagen")
    local = timezone.localtime(real_now(), zone)
    target = local.replace(hour=23, minute=50, second=0, microsecond=0)
    offset = target - local
    monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)
    return target


def test_it_seeds_the_board_within_the_day_late_in_the_evening(settings, db, late_evening):
    settings.DEMO_LOGINS_ALLOWED = True
    call_command("seed_demo", "--patients", "120", stdout=io.StringIO(), stderr=io.StringIO())

    for site in Site.objects.filter(active=True):
        day = timezone.localtime(late_evening, site.zone).date()
        tomorrow = datetime.datetime.combine(
            day + datetime.timedelta(days=1), datetime.time.min, site.zone
        )
        assert not Appointment.objects.filter(
            site=site, notes=BOARD_NOTE, starts_at__gte=tomorrow
        ).exists(), site
        sections = {s["key"]: s["rows"] for s in recovery_board(site=site, day=day)}
        for key in ("waiting", "checks", "procedure", "recovery", "discharged"):
            assert sections[key], f"{site}: nobody in {key}"


def test_it_signs_procedure_notes_of_past_appointments(seeded):
    from clinic.nursing.models import ProcedureNote

    notes = ProcedureNote.objects.select_related("appointment", "appointment__procedure_type")
    assert notes.count() > 10
    for note in notes[:40]:
        assert note.is_signed and note.signed_at <= timezone.now()
        assert note.appointment.starts_at < timezone.now()
        assert note.signed_by_id == note.appointment.physician_id
        assert note.sign_problems() == [], (note.appointment.procedure_type.code, note.pk)
    before = notes.count()
    call_command("seed_demo", "--patients", "120", stdout=io.StringIO(), stderr=io.StringIO())
    assert ProcedureNote.objects.count() == before

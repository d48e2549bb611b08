"""Care plans and the work rows an appointment's life creates, moves and cancels."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from clinic.models import ProcedureType
from followup import services
from followup.models import CarePlan, CarePlanStep, Invitation, PreparationInstruction
from scheduling.models import Status
from scheduling.services import appointment_cancel, appointment_reschedule
from tests.factories import AppointmentFactory, local, set_status

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
K, S = Invitation.Kind, Invitation.Status


def test_it_seeds_a_care_plan_and_preparation_for_every_procedure_type(db):
    for procedure_type in ProcedureType.objects.all():
        plan = CarePlan.objects.get(procedure_type=procedure_type)
        assert plan.active and plan.steps.exists(), procedure_type.code
        for language in ("en", "da"):
            topics = set(
                PreparationInstruction.objects.filter(
                    procedure_type=procedure_type, language=language
                ).values_list("topic", flat=True)
            )
            assert {"anticoagulants", "escort", "bring"} <= topics, procedure_type.code
            if procedure_type.typical_sedation != "none":
                assert "fasting" in topics


def test_it_seeds_the_plans_the_clinic_described(db):
    def steps(code):
        return list(
            CarePlanStep.objects.filter(plan__procedure_type__code=code).values_list(
                "name", "offset_days", "instruments"
            )
        )

    esi = steps("esi-interlaminar")
    assert esi[0] == ("Day 1 red-flag check", 1, ["red_flags"])
    assert [days for _, days, _ in esi[1:]] == [14, 42, 91]
    assert all({"nrs", "pgic", "disability"} <= set(i) for _, _, i in esi[1:])
    assert steps("medial-branch-block")[0] == ("Same-day pain diary", 0, ["diary"])
    assert [days for _, days, _ in steps("rfa")] == [1, 30, 91, 182, 365]
    trial = steps("scs-trial")
    assert [name for name, _, _ in trial[:7]] == [f"Trial day {d}" for d in range(1, 8)]


def test_it_creates_the_reminder_and_baseline_when_booked(book, calendar):
    appointment = book(9, 0)
    reminder = Invitation.objects.get(appointment=appointment, kind=K.APPOINTMENT_REMINDER)
    assert reminder.status == S.SCHEDULED
    assert reminder.due_at == appointment.starts_at - datetime.timedelta(hours=48)
    baseline = Invitation.objects.get(appointment=appointment, kind=K.BASELINE)
    # Travels inside the reminder's email; lumbar levels give the ODI.
    assert baseline.sent_with == reminder
    assert baseline.instruments == ["nrs", "odi"]
    assert baseline.expires_at == appointment.ends_at


def test_it_sends_the_reminder_at_the_configured_local_time(book, calendar, settings):
    settings.FOLLOWUP_REMINDER_LOCAL_TIME = "17:30"
    appointment = book(9, 0)
    reminder = appointment.invitations.get(kind=K.APPOINTMENT_REMINDER)
    due = timezone.localtime(reminder.due_at, COPENHAGEN)
    assert (due.date(), due.hour, due.minute) == (
        calendar["monday"] - datetime.timedelta(2),
        17,
        30,
    )


def test_it_gives_no_baseline_when_the_plan_takes_it_at_check_in(book, calendar):
    CarePlan.objects.filter(procedure_type=calendar["tfesi"]).update(baseline_with_reminder=False)
    appointment = book(9, 0)
    assert not appointment.invitations.filter(kind=K.BASELINE).exists()
    set_status(appointment, Status.CHECKED_IN)
    baseline = appointment.invitations.get(kind=K.BASELINE)
    assert baseline.status == S.SCHEDULED and baseline.sent_with is None
    assert baseline.due_at <= timezone.now()


def test_it_reopens_a_baseline_that_never_reached_the_patient_at_check_in(book):
    appointment = book(9, 0)
    appointment.invitations.update(status=S.SKIPPED)
    set_status(appointment, Status.CHECKED_IN)
    baseline = appointment.invitations.get(kind=K.BASELINE)
    assert (baseline.status, baseline.sent_with) == (S.SCHEDULED, None)


def test_it_moves_the_reminder_when_the_appointment_moves(book, calendar, front_desk):
    appointment = book(9, 0)
    reminder = appointment.invitations.get(kind=K.APPOINTMENT_REMINDER)
    Invitation.objects.filter(pk=reminder.pk).update(status=S.SENT, sends=1)
    later = calendar["monday"] + datetime.timedelta(days=7)
    moved = appointment_reschedule(
        actor=front_desk, appointment=appointment, starts_at=local(later, 11, 0)
    )
    reminder.refresh_from_db()
    # Already sent once: reminded again for the new time, as a new email.
    assert reminder.status == S.SCHEDULED
    assert reminder.due_at == moved.starts_at - datetime.timedelta(hours=48)
    assert reminder.message_id.startswith(f"<invitation-{reminder.pk}-send-2@")
    baseline = appointment.invitations.get(kind=K.BASELINE)
    assert (baseline.due_at, baseline.expires_at) == (reminder.due_at, moved.ends_at)


def test_it_cancels_pending_rows_when_the_appointment_is_cancelled(book, front_desk):
    appointment = book(9, 0)
    appointment_cancel(actor=front_desk, appointment=appointment, reason="patient_request")
    assert set(appointment.invitations.values_list("status", flat=True)) == {S.CANCELLED}


def test_it_cancels_pending_rows_on_a_no_show(calendar, patient):
    appointment = AppointmentFactory(calendar=calendar, patient=patient)
    services.reminder_schedule(appointment=appointment)
    set_status(appointment, Status.NO_SHOW, change="no_show")
    assert set(appointment.invitations.values_list("status", flat=True)) == {S.CANCELLED}


def test_it_books_no_reminder_for_a_request_until_it_is_booked(calendar, patient):
    appointment = AppointmentFactory(calendar=calendar, patient=patient, status=Status.REQUESTED)
    set_status(appointment, Status.REQUESTED, change="booked")
    assert not appointment.invitations.exists()
    set_status(appointment, Status.BOOKED)
    assert appointment.invitations.filter(kind=K.APPOINTMENT_REMINDER).exists()


def test_it_instantiates_the_care_plan_at_discharge_once(calendar, patient):
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - datetime.timedelta(hours=2)
    )
    set_status(appointment, Status.DISCHARGED)
    set_status(appointment, Status.DISCHARGED)  # a repeated signal adds nothing
    surveys = list(appointment.invitations.filter(kind=K.SURVEY).order_by("due_at"))
    assert [row.step.name for row in surveys] == [
        "Day 1 red-flag check",
        "2 weeks",
        "6 weeks",
        "3 months",
    ]
    assert surveys[1].instruments == ["nrs", "pgic", "relief", "odi", "red_flags"]
    assert all(row.status == S.SCHEDULED for row in surveys)
    # Day 1 closes after 3 days; the others after FOLLOWUP_SURVEY_EXPIRY_DAYS.
    assert surveys[0].expires_at - surveys[0].due_at == datetime.timedelta(days=3)
    assert surveys[1].expires_at - surveys[1].due_at == datetime.timedelta(days=14)


def test_it_asks_for_the_neck_questionnaire_after_cervical_treatment(calendar, patient):
    appointment = AppointmentFactory(calendar=calendar, patient=patient, levels="C5-C6")
    rows = services.plan_instantiate(appointment=appointment, discharged_at=timezone.now())
    assert "ndi" in rows[1].instruments and "odi" not in rows[1].instruments


@pytest.mark.parametrize(
    ("discharged", "due_local", "utc_hours"),
    [
        # Spring: discharged in winter time (UTC+1), due in summer time (UTC+2).
        (datetime.datetime(2026, 3, 20, 14, 5), datetime.datetime(2026, 4, 3, 10, 0), (13, 8)),
        # Autumn: the other way round.
        (datetime.datetime(2026, 10, 16, 14, 5), datetime.datetime(2026, 10, 30, 10, 0), (12, 9)),
    ],
)
def test_it_keeps_the_local_send_time_across_a_daylight_saving_change(
    calendar, patient, discharged, due_local, utc_hours
):
    discharged_at = discharged.replace(tzinfo=COPENHAGEN)
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=discharged_at - datetime.timedelta(hours=3)
    )
    rows = services.plan_instantiate(appointment=appointment, discharged_at=discharged_at)
    two_weeks = next(row for row in rows if row.step.name == "2 weeks")
    assert timezone.localtime(two_weeks.due_at, COPENHAGEN).replace(tzinfo=None) == due_local
    assert discharged_at.astimezone(datetime.UTC).hour == utc_hours[0]
    assert two_weeks.due_at.astimezone(datetime.UTC).hour == utc_hours[1]


def test_it_sends_the_same_day_diary_at_discharge(calendar, patient):
    mbb = ProcedureType.objects.get(code="medial-branch-block")
    appointment = AppointmentFactory(calendar=calendar, patient=patient, procedure_type=mbb)
    discharged_at = timezone.now()
    rows = services.plan_instantiate(appointment=appointment, discharged_at=discharged_at)
    diary = rows[0]
    assert (diary.instruments, diary.due_at) == (["diary"], discharged_at)
    assert diary.expires_at == discharged_at + datetime.timedelta(days=2)


def test_it_adds_nothing_for_an_inactive_plan(calendar, patient):
    CarePlan.objects.filter(procedure_type=calendar["tfesi"]).update(active=False)
    appointment = AppointmentFactory(calendar=calendar, patient=patient)
    assert services.plan_instantiate(appointment=appointment, discharged_at=timezone.now()) == []
    reminder = services.reminder_schedule(appointment=appointment)
    assert list(appointment.invitations.all()) == [reminder]


def test_it_keeps_who_changed_a_care_plan_step_in_the_admin(client, manager):
    from django.urls import reverse

    plan = CarePlan.objects.get(procedure_type__code="rfa")
    steps = list(plan.steps.order_by("order", "pk"))
    data = {
        "procedure_type": plan.procedure_type_id,
        "active": "on",
        "baseline_with_reminder": "on" if plan.baseline_with_reminder else "",
        "baseline_instruments": plan.baseline_instruments,
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(len(steps)),
        "_save": "Save",
    }
    for n, step in enumerate(steps):
        data.update(
            {
                f"steps-{n}-id": step.pk,
                f"steps-{n}-plan": plan.pk,
                f"steps-{n}-name": step.name,
                f"steps-{n}-offset_days": 200 if n == 3 else step.offset_days,
                f"steps-{n}-offset_minutes": step.offset_minutes,
                f"steps-{n}-local_time": step.local_time or "",
                f"steps-{n}-instruments": step.instruments,
                f"steps-{n}-expiry_days": step.expiry_days or "",
                f"steps-{n}-order": step.order,
            }
        )
    client.force_login(manager)
    url = reverse("admin:followup_careplan_change", args=[plan.pk])

    response = client.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    changed = steps[3].history.first()
    assert (changed.offset_days, changed.history_user) == (200, manager)
    assert changed.prev_record.offset_days == 182
    assert client.get(reverse("admin:followup_careplan_history", args=[plan.pk])).status_code == 200

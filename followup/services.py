"""Writes of the follow-up engine: work rows for an appointment, answers, alerts, opt-out.

Rows are created and moved inside the transaction of the appointment change that caused
them (see followup.receivers), so a rolled-back booking leaves no reminder behind. Every
state change of an existing row is a conditional update on its current status.
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.audit import audit_record
from clinic.models import AuditEvent, Patient
from clinic.refusals import Refused
from clinic.roles import Role, clinical_role_allows, roles_of
from followup import scoring
from followup.models import (
    Alert,
    CarePlan,
    Instrument,
    Invitation,
    Response,
    resolve_instruments,
)
from followup.red_flags import red_flag_questions
from followup.selectors import baseline_response
from followup.services_outcomes import outcome_episode_refresh_after_commit
from followup.services_recall import recall_refresh_after_commit

S = Invitation.Status
K = Invitation.Kind
# Rows a reschedule may still move and a cancellation still stops.
PENDING = (S.SCHEDULED, S.QUEUED)


# --- Work rows of an appointment -------------------------------------------------------


def _plan_for(appointment) -> CarePlan | None:
    return CarePlan.objects.filter(
        procedure_type_id=appointment.procedure_type_id, active=True
    ).first()


def reminder_due_at(appointment, *, now: datetime.datetime) -> datetime.datetime:
    """FOLLOWUP_REMINDER_HOURS_BEFORE the start, moved to FOLLOWUP_REMINDER_LOCAL_TIME on
    that day (site time) when set; never in the past, never after the start."""
    before = datetime.timedelta(hours=settings.FOLLOWUP_REMINDER_HOURS_BEFORE)
    due = appointment.starts_at - before
    if settings.FOLLOWUP_REMINDER_LOCAL_TIME:
        zone = appointment.site.zone
        day = timezone.localtime(due, zone).date()
        at = datetime.time.fromisoformat(settings.FOLLOWUP_REMINDER_LOCAL_TIME)
        local = datetime.datetime.combine(day, at, tzinfo=zone)
        if local < appointment.starts_at:
            due = local
    return max(due, now).astimezone(datetime.UTC)


def reminder_schedule(*, appointment, now: datetime.datetime | None = None) -> Invitation:
    """The appointment reminder row, and the baseline survey travelling with it.

    Idempotent: the database allows one reminder and one baseline per appointment.
    """
    now = now or timezone.now()
    due = reminder_due_at(appointment, now=now)
    reminder, _created = Invitation.objects.get_or_create(
        appointment=appointment,
        kind=K.APPOINTMENT_REMINDER,
        defaults={"patient_id": appointment.patient_id, "due_at": due},
    )
    plan = _plan_for(appointment)
    if plan and plan.baseline_with_reminder and plan.baseline_instruments:
        Invitation.objects.get_or_create(
            appointment=appointment,
            kind=K.BASELINE,
            defaults={
                "patient_id": appointment.patient_id,
                "instruments": resolve_instruments(plan.baseline_instruments, appointment),
                "due_at": reminder.due_at,
                # A baseline must come before the procedure.
                "expires_at": appointment.ends_at,
                "sent_with": reminder,
            },
        )
    return reminder


def reminder_move(*, appointment, now: datetime.datetime | None = None) -> None:
    """After a reschedule: remind again for the new time, and move the baseline's deadline.

    A reminder already sent (or skipped, or failed) is set up afresh for the new time; one
    being sent this very moment is left alone rather than risk a second copy.
    """
    from scheduling.models import Status

    if appointment.status not in (Status.BOOKED, Status.CONFIRMED):
        return
    now = now or timezone.now()
    reminder = appointment.invitations.filter(kind=K.APPOINTMENT_REMINDER).first()
    if reminder is None:
        reminder_schedule(appointment=appointment, now=now)
        return
    due = reminder_due_at(appointment, now=now)
    Invitation.objects.filter(pk=reminder.pk).exclude(status=S.SENDING).update(
        status=S.SCHEDULED,
        due_at=due,
        expires_at=None,
        retry_at=None,
        send_attempts=0,
        last_error="",
    )
    baseline = appointment.invitations.filter(kind=K.BASELINE).first()
    if baseline is None:
        return
    Invitation.objects.filter(pk=baseline.pk, status__in=(S.SENT, S.SENDING)).update(
        expires_at=appointment.ends_at
    )
    # Not yet with the patient: it travels with the new reminder.
    Invitation.objects.filter(
        pk=baseline.pk, status__in=(S.SCHEDULED, S.QUEUED, S.SKIPPED, S.FAILED, S.CANCELLED)
    ).update(
        status=S.SCHEDULED,
        due_at=due,
        expires_at=appointment.ends_at,
        sent_with=reminder,
        retry_at=None,
        send_attempts=0,
        last_error="",
    )


def invitations_cancel(*, appointment, reason: str = "The appointment was cancelled.") -> int:
    """Stop everything still to be sent for a cancelled or missed appointment."""
    cancelled = appointment.invitations.filter(status__in=PENDING).update(
        status=S.CANCELLED, last_error=reason
    )
    appointment.invitations.filter(status=S.SENT).update(next_reminder_at=None)
    return cancelled


def baseline_open_at_check_in(*, appointment, now: datetime.datetime | None = None) -> None:
    """At check-in, make sure the baseline survey can be taken (and email it now).

    For plans that do not send it with the reminder, and for a baseline that never reached
    the patient. Open until the end of the booked procedure time.
    """
    now = now or timezone.now()
    plan = _plan_for(appointment)
    if plan is None or not plan.baseline_instruments:
        return
    baseline, created = Invitation.objects.get_or_create(
        appointment=appointment,
        kind=K.BASELINE,
        defaults={
            "patient_id": appointment.patient_id,
            "instruments": resolve_instruments(plan.baseline_instruments, appointment),
            "due_at": now,
            "expires_at": max(appointment.ends_at, now + datetime.timedelta(hours=1)),
        },
    )
    if not created:
        Invitation.objects.filter(
            pk=baseline.pk, status__in=(S.SKIPPED, S.FAILED, S.CANCELLED, S.EXPIRED)
        ).update(
            status=S.SCHEDULED,
            due_at=now,
            expires_at=max(appointment.ends_at, now + datetime.timedelta(hours=1)),
            sent_with=None,
            retry_at=None,
            send_attempts=0,
        )


def plan_instantiate(*, appointment, discharged_at: datetime.datetime) -> list[Invitation]:
    """Turn the procedure type's care plan into survey rows due after `discharged_at`.

    Due times are computed in the site's zone (CarePlanStep.due_after). Idempotent: the
    database allows one row per appointment and plan step.
    """
    plan = _plan_for(appointment)
    if plan is None:
        return []
    zone = appointment.site.zone
    rows = []
    for step in plan.steps.all():
        due = step.due_after(discharged_at, zone)
        rows.append(
            Invitation(
                patient_id=appointment.patient_id,
                appointment=appointment,
                step=step,
                kind=K.SURVEY,
                instruments=resolve_instruments(step.instruments, appointment),
                due_at=due,
                expires_at=step.expires_after(due),
            )
        )
    Invitation.objects.bulk_create(rows, ignore_conflicts=True)
    return list(appointment.invitations.filter(kind=K.SURVEY).order_by("due_at"))


# --- Survey answers --------------------------------------------------------------------


class SurveyInvalid(Refused):
    """Answers that cannot be recorded; `errors` maps a field to a message for the patient.

    Field keys: the answer keys ("nrs_current", "pgic", ...), "odi.<section>",
    "ndi.<section>", "red_flags.<code>", "diary.<minutes>", an instrument key for the
    whole part, and "__all__" for the survey as a whole.
    """

    code = "survey_invalid"

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__(list(errors.values()))


class SurveyClosed(SurveyInvalid):
    """The survey was cancelled or has expired."""

    code = "survey_closed"

    def __init__(self):
        super().__init__(
            {"__all__": _("This survey has closed. If you need advice, please call the clinic.")}
        )


class SurveyAlreadyAnswered(Refused):
    """The invitation already has its one response."""

    code = "survey_already_answered"

    def __init__(self):
        super().__init__("This survey has already been answered.")


ANSWER_KEYS = {
    Instrument.NRS: ("nrs_current", "nrs_average", "nrs_worst"),
    Instrument.PGIC: ("pgic",),
    Instrument.RELIEF: ("relief",),
    Instrument.ODI: ("odi",),
    Instrument.NDI: ("ndi",),
    Instrument.RED_FLAGS: ("red_flags",),
    Instrument.DIARY: ("diary",),
}


def _whole(value, low: int, high: int) -> int | None:
    """An integer low..high from an int or a string of digits; None if it is not one."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def _clean_sections(instrument, sections, given, errors) -> dict:
    known = [section_id for section_id, _title in sections]
    if not isinstance(given, dict):
        errors[instrument] = _("Please answer the questions in this part.")
        return {}
    if set(given) - set(known):
        errors[instrument] = _("This part has an answer to a question it does not ask.")
    cleaned = {}
    for section_id in known:
        value = given.get(section_id)
        if value in (None, ""):
            cleaned[section_id] = None
            continue
        score = _whole(value, 0, 5)
        if score is None:
            errors[f"{instrument}.{section_id}"] = _("Please choose one of the answers.")
        cleaned[section_id] = score
    return cleaned


def _clean_answers(instruments: list[str], answers: dict, red_flag_codes=()) -> dict:
    """The answers in stored form; raises SurveyInvalid listing every problem.

    `red_flag_codes` are the red-flag questions this survey asks (by region).
    """
    if not isinstance(answers, dict):
        raise SurveyInvalid({"__all__": _("Please answer the questions.")})
    errors: dict[str, str] = {}
    cleaned: dict = {}
    allowed = {key for instrument in instruments for key in ANSWER_KEYS.get(instrument, ())}
    for key in sorted(set(answers) - allowed):
        errors[key] = _("This question is not part of this survey.")

    for key in ("nrs_current", "nrs_average", "nrs_worst"):
        if key in allowed:
            cleaned[key] = _whole(answers.get(key), 0, 10)
            if cleaned[key] is None:
                errors[key] = _("Please choose a number from 0 to 10.")
    if "pgic" in allowed:
        cleaned["pgic"] = _whole(answers.get("pgic"), 1, 7)
        if cleaned["pgic"] is None:
            errors["pgic"] = _("Please choose the answer that fits best.")
    if "relief" in allowed:
        cleaned["relief"] = _whole(answers.get("relief"), 0, 100)
        if cleaned["relief"] is None:
            errors["relief"] = _("Please give a percentage from 0 to 100.")
    if "odi" in allowed:
        cleaned["odi"] = _clean_sections("odi", scoring.ODI_SECTIONS, answers.get("odi"), errors)
    if "ndi" in allowed:
        cleaned["ndi"] = _clean_sections("ndi", scoring.NDI_SECTIONS, answers.get("ndi"), errors)
    if "red_flags" in allowed:
        given = answers.get("red_flags")
        given = given if isinstance(given, dict) else {}
        codes = list(red_flag_codes)
        if set(given) - set(codes):
            errors["red_flags"] = _("This part has an answer to a question it does not ask.")
        cleaned["red_flags"] = {}
        for code in codes:
            if isinstance(given.get(code), bool):
                cleaned["red_flags"][code] = given[code]
            else:
                errors[f"red_flags.{code}"] = _("Please answer yes or no.")
    if "diary" in allowed:
        given = answers.get("diary")
        given = given if isinstance(given, dict) else {}
        offsets = [str(minutes) for minutes in settings.FOLLOWUP_DIARY_OFFSETS_MINUTES]
        if set(map(str, given)) - set(offsets):
            errors["diary"] = _("This part has an answer to a question it does not ask.")
        diary = {}
        for minutes in offsets:
            value = given.get(minutes, given.get(int(minutes)))
            if value in (None, ""):
                diary[minutes] = None
                continue
            diary[minutes] = _whole(value, 0, 10)
            if diary[minutes] is None:
                errors[f"diary.{minutes}"] = _("Please choose a number from 0 to 10.")
        if "diary" not in errors and all(score is None for score in diary.values()):
            errors["diary"] = _("Please write down your pain at one time at least.")
        cleaned["diary"] = diary
    if errors:
        raise SurveyInvalid(errors)
    return cleaned


NRS_LABELS = {"nrs_current": "pain now", "nrs_average": "average pain", "nrs_worst": "worst pain"}


def _relief_and_alerts(
    cleaned: dict, baseline: Response | None, red_flags: dict[str, str]
) -> tuple[dict, list[tuple]]:
    """Computed scores against the baseline, and (kind, detail) of the alerts to raise.

    `red_flags` maps each red-flag code asked to its English wording, so the alert names
    the question the patient said yes to.
    """
    scores: dict = {"percent_relief": None, "diary_peak_relief": None}
    alerts = []
    flags = scoring.red_flags_present(cleaned.get("red_flags", {}), list(red_flags))
    if flags:
        alerts.append((Alert.Kind.RED_FLAG, "; ".join(red_flags[code] for code in flags)))
    if cleaned.get("pgic") is not None and scoring.pgic_is_worse_alert(cleaned["pgic"]):
        label = dict(scoring.PGIC_CHOICES)[cleaned["pgic"]]
        alerts.append((Alert.Kind.PGIC_WORSE, f"PGIC {cleaned['pgic']}: {label}"))
    if baseline is None:
        return scores, alerts

    points = settings.FOLLOWUP_WORSE_PAIN_POINTS
    worse = []
    for key, label in NRS_LABELS.items():
        before, now = getattr(baseline, key), cleaned.get(key)
        if before is not None and now is not None and scoring.pain_worsened(before, now, points):
            worse.append(f"{label} {before} → {now}")
    # Relief on the average pain over the last week, else on the pain now.
    for key in ("nrs_average", "nrs_current"):
        before, now = getattr(baseline, key), cleaned.get(key)
        if before is not None and now is not None:
            scores["percent_relief"] = scoring.percent_relief(before, now)
            break
    diary = {int(m): score for m, score in (cleaned.get("diary") or {}).items()}
    if diary and baseline.nrs_current is not None:
        scores["diary_peak_relief"] = scoring.diary_peak_relief(baseline.nrs_current, diary)
        peak = max((score for score in diary.values() if score is not None), default=None)
        if peak is not None and scoring.pain_worsened(baseline.nrs_current, peak, points):
            worse.append(f"diary peak {baseline.nrs_current} → {peak}")
    if worse:
        alerts.append((Alert.Kind.WORSE_PAIN, "; ".join(worse) + " (baseline → now)"))
    return scores, alerts


def _disability_percent(instrument: str, cleaned: dict) -> Decimal | None:
    if instrument not in cleaned:
        return None
    if instrument == "odi":
        scored = scoring.odi_score(cleaned["odi"], settings.FOLLOWUP_ODI_MAX_MISSING)
    else:
        scored = scoring.ndi_score(cleaned["ndi"], settings.FOLLOWUP_NDI_MAX_MISSING)
    return scored.percent if scored else None


def response_record(
    *, invitation: Invitation, answers: dict, submitted_at: datetime.datetime | None = None
) -> Response:
    """Validate, score and store a patient's answers to a survey invitation.

    `answers` (keys only for the invitation's instruments; "disability" means "odi" or
    "ndi" as `followup.models.disability_instrument` decides for the appointment):

        {
            "nrs_current": 0-10, "nrs_average": 0-10, "nrs_worst": 0-10,   # NRS-11
            "pgic": 1-7,                       # PGIC, 1 very much improved .. 7 very much worse
            "relief": 0-100,                   # patient-rated % relief of usual pain
            "odi": {section_id: 0-5 | None},   # scoring.ODI_SECTIONS ids; None = skipped
            "ndi": {section_id: 0-5 | None},   # scoring.NDI_SECTIONS ids
            "red_flags": {code: bool},         # every code followup.red_flags asks, True = yes
            "diary": {"30": 0-10 | None, ...}, # str(minutes) of FOLLOWUP_DIARY_OFFSETS_MINUTES
        }

    Numbers may be ints or strings of digits. NRS, PGIC, relief and every red flag are
    required; ODI/NDI sections may be skipped (scored per FOLLOWUP_*_MAX_MISSING, no score
    beyond that: a skipped questionnaire part must never block the red-flag screen); the
    diary needs one time at least. Scores are stored unrounded.

    Alerts (red flag, pain FOLLOWUP_WORSE_PAIN_POINTS above the appointment's baseline,
    PGIC 6-7) are created with the response: `response.alerts.all()`. On-call is emailed
    right after the commit and, should that fail, by the next dispatcher tick.

    Raises SurveyInvalid(errors), SurveyClosed (a SurveyInvalid) for a cancelled or expired
    survey, and SurveyAlreadyAnswered when the invitation has its response already.
    """
    now = submitted_at or timezone.now()
    current = Invitation.objects.select_related("appointment__procedure_type").get(pk=invitation.pk)
    if current.status == S.ANSWERED:
        raise SurveyAlreadyAnswered()
    if not current.is_survey:
        raise SurveyInvalid({"__all__": _("This link has no survey.")})
    if not current.is_answerable(now):
        raise SurveyClosed()
    instruments = resolve_instruments(current.instruments, current.appointment)
    asked = red_flag_questions(current.appointment) if Instrument.RED_FLAGS in instruments else []
    # English wording for staff: the alert and the stored answers name the question asked.
    red_flags = {row.code: row.text_en for row in asked}
    cleaned = _clean_answers(instruments, answers, red_flag_codes=list(red_flags))
    baseline = baseline_response(current.appointment) if current.kind == K.SURVEY else None
    scores, alerts = _relief_and_alerts(cleaned, baseline, red_flags)

    with transaction.atomic():
        try:
            with transaction.atomic():
                response = Response.objects.create(
                    invitation=current,
                    patient_id=current.patient_id,
                    submitted_at=now,
                    answers=cleaned,
                    nrs_current=cleaned.get("nrs_current"),
                    nrs_average=cleaned.get("nrs_average"),
                    nrs_worst=cleaned.get("nrs_worst"),
                    pgic=cleaned.get("pgic"),
                    patient_rated_relief=cleaned.get("relief"),
                    odi_percent=_disability_percent("odi", cleaned),
                    ndi_percent=_disability_percent("ndi", cleaned),
                    red_flags=scoring.red_flags_present(
                        cleaned.get("red_flags", {}), list(red_flags)
                    ),
                    **scores,
                )
        except IntegrityError:
            raise SurveyAlreadyAnswered() from None
        answered = (
            Invitation.objects.filter(pk=current.pk)
            .answerable(now)
            .update(status=S.ANSWERED, answered_at=now, next_reminder_at=None)
        )
        if answered != 1:
            raise SurveyClosed()
        for kind, detail in alerts:
            Alert.objects.create(
                patient_id=current.patient_id,
                response=response,
                kind=kind,
                detail=detail[:255],
                created_at=now,
            )
        if alerts:
            from followup.tasks import notify_oncall

            notify_oncall.delay_on_commit()
        # The outcome row and the recall rows take in this answer once it is committed.
        outcome_episode_refresh_after_commit(appointment_id=current.appointment_id)
        recall_refresh_after_commit(patient_id=current.patient_id)
    invitation.status, invitation.answered_at = S.ANSWERED, now
    return response


# --- Alerts ----------------------------------------------------------------------------


class AlertAlreadyAcknowledged(Refused):
    """Someone acknowledged the alert first; theirs stands."""

    code = "alert_already_acknowledged"

    def __init__(self, alert: Alert):
        by = alert.acknowledged_by
        name = (by.get_full_name() or by.get_username()) if by else "Someone"
        super().__init__(
            f"{name} acknowledged it first: {alert.acknowledgement_note}",
            detail="This alert was already acknowledged.",
        )


class AlertNoteRequired(ValueError):
    """An acknowledgement must say what was done."""


class AlertNotForThisRole(Refused):
    """A clinical alert is the physician's to take: it must reach one, not stop at a nurse."""

    code = "alert_physician_only"

    def __init__(self):
        super().__init__("Only a physician can acknowledge a NEWS2 alert.")


def alert_acknowledge(*, alert: Alert, user, note: str, now=None) -> Alert:
    """A named nurse or physician takes the alert, saying what was done; a clinical alert
    (NEWS2) only a physician. Only the first one counts."""
    if alert.is_clinical and not (
        Role.PHYSICIAN in roles_of(user) and clinical_role_allows(user, "followup.change_alert")
    ):
        raise AlertNotForThisRole()
    note = (note or "").strip()
    if not note:
        raise AlertNoteRequired("Write what was done before acknowledging the alert.")
    now = now or timezone.now()
    acknowledged = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_by=user, acknowledged_at=now, acknowledgement_note=note
    )
    alert.refresh_from_db()
    if acknowledged != 1:
        raise AlertAlreadyAcknowledged(alert)
    return alert


def clinical_alert_raise(
    *, appointment, kind: str, severity: str, summary: str, source_id=None, now=None
) -> Alert:
    """The procedure's physician must hear of a clinical warning (a NEWS2 round in an
    escalation band): one open alert per appointment and kind.

    While one is open, a later warning updates it (latest summary and band, one more
    occurrence) rather than adding another for the physician to acknowledge. Once it is
    acknowledged, a later warning is news the physician has not seen: a new alert.
    On-call is emailed by the dispatcher if nobody acknowledges it in time.
    """
    now = now or timezone.now()
    kind = Alert.Kind(kind)
    fields = {"detail": summary[:255], "severity": severity, "source_id": source_id}
    open_alert = Alert.objects.filter(
        appointment=appointment, kind=kind, acknowledged_at__isnull=True
    )
    for _attempt in range(2):
        # A concurrent round may create the open alert between the update and the insert;
        # the unique constraint then refuses the second, and it updates that one instead.
        if open_alert.update(**fields, last_raised_at=now, occurrences=F("occurrences") + 1):
            return open_alert.get()
        try:
            with transaction.atomic():
                return Alert.objects.create(
                    patient_id=appointment.patient_id,
                    appointment=appointment,
                    kind=kind,
                    created_at=now,
                    last_raised_at=now,
                    **fields,
                )
        except IntegrityError:
            continue
    raise RuntimeError("The open clinical alert changed twice meanwhile.")


# --- Opt-out ---------------------------------------------------------------------------


def patient_unsubscribe(*, patient: Patient, now=None) -> bool:
    """The patient withdrew email consent from a link; True if it was given until now.

    Recorded as an AuditEvent with no user (the patient acted). Reminders of surveys
    already sent stop; rows still due are skipped by the dispatcher's consent check.
    """
    now = now or timezone.now()
    with transaction.atomic():
        changed = Patient.objects.filter(pk=patient.pk, email_consent=True).update(
            email_consent=False, updated_at=now
        )
        if changed:
            Invitation.objects.filter(patient=patient, status=S.SENT).update(next_reminder_at=None)
            audit_record(
                user=None,
                action=AuditEvent.Action.CHANGE,
                obj=patient,
                patient=patient,
                detail="Email consent withdrawn by the patient (unsubscribe link).",
            )
    patient.email_consent = False
    return changed == 1

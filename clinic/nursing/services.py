"""Writes of the perioperative record. Each one is signed by its actor and audited.

Signed rows never change in place except through an Amendment that keeps who, when,
why, and the old and new value.
"""

import json

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import JSONField
from django.utils import timezone

from clinic.audit import audit_record
from clinic.models import AuditEvent
from clinic.nursing import discharge_scores, rules
from clinic.nursing.models import (
    INJECTATE_KEYS,
    SEDATION_KEYS,
    Amendment,
    ChecklistAnswer,
    Complication,
    Discharge,
    DischargeAssessment,
    Escalation,
    ObservationRound,
    Phase,
    ProcedureNote,
    ProcedureNoteAmendment,
    TimeOutConfirmation,
)
from clinic.refusals import Refused
from clinic.roles import CLINICIAN_ONLY, clinical_role_allows
from scheduling.models import Appointment, Status, validate_levels
from scheduling.services import appointment_transition
from scheduling.signals import clinical_warning_raised

PHYSICIAN_SIGNATURE = "nursing.sign_time_out_as_physician"
# The checklist is filled in from booking until the patient leaves recovery.
CHECKLIST_STATUSES = (
    Status.BOOKED,
    Status.CONFIRMED,
    Status.CHECKED_IN,
    Status.IN_PROCEDURE,
    Status.IN_RECOVERY,
)

NO_REASON = "Give the reason for the amendment."


class NursingRefused(Refused):
    """A write the record's rules do not allow; `messages` say why."""

    code = "nursing_refused"


def _require_clinician(actor, permission: str) -> None:
    """Every write here is a clinical act: a nurse's or physician's, never a superuser's."""
    if not clinical_role_allows(actor, permission):
        raise NursingRefused(CLINICIAN_ONLY, code="clinician_only")


def _audit(actor, action, obj, appointment, detail):
    audit_record(user=actor, action=action, obj=obj, patient=appointment.patient, detail=detail)


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


# Which Amendment field links to each kind of signed record.
AMENDED_RECORDS = {
    ChecklistAnswer: "answer",
    ObservationRound: "round",
    DischargeAssessment: "assessment",
}


def _amendment_record(*, actor, record, field, old, new, reason, detail, rescored=None):
    """Keep the change to a signed record (old and new value, who, when, why) and audit it.

    `rescored` is (score, old, new) when the change moved the record's score: kept too,
    when it differs, as scored again because of the change.
    """
    link = {AMENDED_RECORDS[type(record)]: record}
    Amendment.objects.create(
        **link, field=field, old_value=old, new_value=new, reason=reason, by=actor
    )
    if rescored and rescored[1] != rescored[2]:
        score, old_score, new_score = rescored
        Amendment.objects.create(
            **link,
            field=score,
            old_value=old_score,
            new_value=new_score,
            reason=f"Scored again after amending {field}.",
            by=actor,
        )
    _audit(actor, AuditEvent.Action.CHANGE, record, record.appointment, detail)


# --- Checklist -----------------------------------------------------------------------


def _require_open_checklist(appointment):
    """Refuse a closed checklist; lock the appointment so that the tablet's autosave and
    the nurse's Sign button write one after the other."""
    current = Appointment.objects.select_for_update().only("status").get(pk=appointment.pk)
    if current.status not in CHECKLIST_STATUSES:
        raise NursingRefused(
            f"The checklist of a {current.get_status_display().lower()} appointment is "
            "closed; amend a signed answer instead.",
            code="checklist_closed",
        )


@transaction.atomic
def checklist_save(*, actor, appointment, values: dict, sign: bool = False) -> list:
    """Save answers {item: value} as drafts; with `sign`, sign them at once.

    Values are validated here (ValidationError names the item). A signed answer is never
    overwritten: it raises NursingRefused pointing to an amendment.
    """
    _require_clinician(actor, "nursing.add_checklistanswer")
    _require_open_checklist(appointment)
    now = timezone.now()
    clean = {
        item: rules.validate_answer(item, value, appointment) for item, value in values.items()
    }
    existing = {
        a.item_id: a
        for a in ChecklistAnswer.objects.select_for_update().filter(
            appointment=appointment, item__in=list(clean)
        )
    }
    signed = [item.label for item in clean if item.pk in existing and existing[item.pk].is_signed]
    if signed:
        raise NursingRefused(
            f"Already signed: {', '.join(signed)}. Amend a signed answer, giving a reason.",
            code="already_signed",
        )
    saved = []
    for item, value in clean.items():
        answer = existing.get(item.pk) or ChecklistAnswer(appointment=appointment, item=item)
        answer.value = value
        answer.entered_by = actor
        answer.entered_at = now
        if sign:
            answer.signed_by, answer.signed_at = actor, now
        try:
            with transaction.atomic():
                answer.save()
        except IntegrityError:
            raise NursingRefused(
                f"{item.label} was just answered on another device; reload the page.",
                code="answered_meanwhile",
            ) from None
        saved.append(answer)
    if sign and saved:
        _audit(
            actor,
            AuditEvent.Action.CREATE,
            appointment,
            appointment,
            f"checklist signed: {', '.join(a.item.code for a in saved)}",
        )
    return saved


@transaction.atomic
def checklist_sign(*, actor, appointment, phase: str) -> int:
    """Sign every draft answer of a phase; returns how many were signed."""
    _require_clinician(actor, "nursing.add_checklistanswer")
    _require_open_checklist(appointment)
    count = ChecklistAnswer.objects.filter(
        appointment=appointment, item__phase=phase, signed_at__isnull=True
    ).update(signed_by=actor, signed_at=timezone.now())
    if count:
        _audit(
            actor,
            AuditEvent.Action.CREATE,
            appointment,
            appointment,
            f"checklist signed: {Phase(phase).label}, {count} answers",
        )
    return count


@transaction.atomic
def answer_amend(*, actor, answer: ChecklistAnswer, value, reason: str) -> ChecklistAnswer:
    """Change a signed answer, keeping the old value, the new one, who, when and why."""
    _require_clinician(actor, "nursing.change_checklistanswer")
    reason = reason.strip()
    if not reason:
        raise NursingRefused(NO_REASON, code="amendment_reason_missing")
    if not answer.is_signed:
        raise NursingRefused(
            "This answer is a draft: change it on the checklist.", code="answer_is_draft"
        )
    new = rules.validate_answer(answer.item, value, answer.appointment)
    if new == answer.value:
        raise NursingRefused("The new answer is the same as the signed one.", code="unchanged")
    old_display = answer.display_value
    answer.value = new
    answer.save(update_fields=["value"])
    _amendment_record(
        actor=actor,
        record=answer,
        field=answer.item.label,
        old=old_display,
        new=answer.display_value,
        reason=reason,
        detail=f"amended {answer.item.code}: {reason}",
    )
    return answer


@transaction.atomic
def time_out_confirm(*, actor, appointment, role: str) -> TimeOutConfirmation:
    """Sign the time-out as nurse or physician once every time-out item is signed."""
    _require_clinician(actor, "nursing.add_timeoutconfirmation")
    if appointment.status != Status.CHECKED_IN:
        raise NursingRefused(
            "The time-out is confirmed just before the procedure starts.", code="time_out_not_due"
        )
    state = rules.checklist_state(appointment)
    missing = state.incomplete([Phase.TIME_OUT])
    if missing:
        raise NursingRefused(
            ["Answer and sign the time-out first.", *missing], code="time_out_incomplete"
        )
    if role == TimeOutConfirmation.Role.PHYSICIAN and not clinical_role_allows(
        actor, PHYSICIAN_SIGNATURE
    ):
        raise NursingRefused(
            f"{actor.get_full_name() or actor} is not a physician.", code="not_a_physician"
        )
    if role == TimeOutConfirmation.Role.NURSE and clinical_role_allows(actor, PHYSICIAN_SIGNATURE):
        raise NursingRefused("The nurse's confirmation must come from a nurse.", code="not_a_nurse")
    other = state.signatures.get(
        TimeOutConfirmation.Role.NURSE
        if role == TimeOutConfirmation.Role.PHYSICIAN
        else TimeOutConfirmation.Role.PHYSICIAN
    )
    if other is not None and other.signed_by_id == actor.pk:
        raise NursingRefused(
            "Nurse and physician must be two different people.", code="same_signer"
        )
    if role in state.signatures:
        raise NursingRefused(
            f"The time-out is already confirmed by the {role}.", code="already_confirmed"
        )
    try:
        with transaction.atomic():
            confirmation = TimeOutConfirmation.objects.create(
                appointment=appointment, role=role, signed_by=actor
            )
    except IntegrityError:
        raise NursingRefused(
            f"The time-out is already confirmed by the {role}.", code="already_confirmed"
        ) from None
    _audit(
        actor,
        AuditEvent.Action.CREATE,
        confirmation,
        appointment,
        f"time-out confirmed by the {role}",
    )
    return confirmation


# --- Status changes ------------------------------------------------------------------


def _transition(*, actor, appointment, to, override_reason="", overrides=None):
    with transaction.atomic():
        return appointment_transition(
            actor=actor,
            appointment=appointment,
            to=to,
            override_reason=override_reason,
            overrides=overrides,
        )


def appointment_check_in(*, actor, appointment) -> Appointment:
    return _transition(actor=actor, appointment=appointment, to=Status.CHECKED_IN)


def procedure_start(
    *, actor, appointment, override_reason: str = "", overrides: dict | None = None
) -> Appointment:
    """Start the procedure; the hard stops are checked by clinic.nursing.guards.

    `overrides` maps a failed stop (a checklist item's code) to a physician's reason.
    """
    return _transition(
        actor=actor,
        appointment=appointment,
        to=Status.IN_PROCEDURE,
        override_reason=override_reason,
        overrides=overrides,
    )


def procedure_end(*, actor, appointment) -> Appointment:
    return _transition(actor=actor, appointment=appointment, to=Status.IN_RECOVERY)


# --- Observation rounds --------------------------------------------------------------

# How each NEWS2 parameter reads in a warning's one-line summary.
NEWS2_PARAMETERS = {
    "respiration_rate": "respiration rate",
    "spo2": "SpO₂",
    "air_or_oxygen": "oxygen",
    "systolic_bp": "systolic BP",
    "pulse": "pulse",
    "consciousness": "consciousness",
    "temperature": "temperature",
}


def round_escalation_warn(round_: ObservationRound) -> None:
    """Tell the physician about a round in an escalation band (NEWS2 >= 5 or a single
    parameter scoring 3, RCP 2017): the follow-up engine raises a clinical alert.

    Sent inside the signing transaction, so no round in the band is signed without its
    alert (scheduling.signals).
    """
    if not round_.needs_escalation:
        return
    scored = ", ".join(
        f"{NEWS2_PARAMETERS.get(name, name)} {score}"
        for name, score in round_.news2_scores.items()
        if score
    )
    clinical_warning_raised.send(
        sender=ObservationRound,
        appointment=round_.appointment,
        kind="news2",
        severity=round_.news2_risk,
        summary=f"NEWS2 {round_.news2_total} ({round_.news2_risk}): {scored}",
        source_id=round_.pk,
    )


@transaction.atomic
def round_record(*, actor, appointment, data: dict) -> ObservationRound:
    """Record one observation round with its NEWS2 (RCP 2017), signed by `actor`.

    Impossible values raise ValidationError per field; unusual ones are kept and shown.
    """
    _require_clinician(actor, "nursing.add_observationround")
    if appointment.status != Status.IN_RECOVERY:
        raise NursingRefused(
            "Observation rounds are recorded while the patient is in recovery; this patient "
            f"is {appointment.get_status_display().lower()}.",
            code="not_in_recovery",
        )
    round_ = ObservationRound(appointment=appointment, signed_by=actor, **data)
    round_.full_clean(exclude=["news2_total", "news2_risk", "news2_scores"])
    round_.score()
    round_.save()
    _audit(
        actor,
        AuditEvent.Action.CREATE,
        round_,
        appointment,
        f"observations: NEWS2 {round_.news2_total} ({round_.news2_risk})",
    )
    round_escalation_warn(round_)
    return round_


ROUND_AMENDABLE = [
    *ObservationRound.VITALS,
    "pain_nrs",
    "motor",
    "sensory",
    "puncture_site",
    "headache",
    "nausea",
    "note",
    "taken_at",
]


def _round_time(round_: ObservationRound, typed):
    """A corrected round time, read on the site's clock and kept on or after the procedure
    day: rounds follow the procedure (the model refuses a time in the future)."""
    appointment = round_.appointment
    zone = appointment.site.zone
    procedure_day = appointment.local_start.date()
    try:
        typed = typed.replace(tzinfo=zone) if timezone.is_naive(typed) else typed
        day = typed.astimezone(zone).date()
    except OverflowError:
        raise ValidationError({"taken_at": "Enter a real time as YYYY-MM-DD HH:MM."}) from None
    if day < procedure_day:
        raise ValidationError(
            {
                "taken_at": "Observations are taken after the procedure: enter a time on or "
                f"after {procedure_day.isoformat()}, as YYYY-MM-DD HH:MM."
            }
        )
    return typed


@transaction.atomic
def round_amend(*, actor, round_: ObservationRound, field: str, value, reason: str):
    """Amend one value of a signed round; NEWS2 is scored again and the change kept."""
    return round_amend_values(actor=actor, round_=round_, values={field: value}, reason=reason)


def _round_text(round_: ObservationRound, field: str, value) -> str:
    """A round's value as the round form shows it: words for choices, air or oxygen, and the
    time on the site's clock."""
    if field == "on_oxygen":
        return "Oxygen" if value else "Air"
    if field == "taken_at" and value is not None:
        return timezone.localtime(value, round_.appointment.site.zone).strftime("%Y-%m-%d %H:%M")
    choices = dict(ObservationRound._meta.get_field(field).flatchoices)
    return str(choices.get(value, value))


@transaction.atomic
def round_amend_values(*, actor, round_: ObservationRound, values: dict, reason: str):
    """Amend values of a signed round at once (the amend page shows the whole round): each
    change is kept with the reason, and NEWS2 is scored again once, kept when it moved."""
    _require_clinician(actor, "nursing.change_observationround")
    reason = reason.strip()
    if not reason:
        raise NursingRefused(NO_REASON, code="amendment_reason_missing")
    for field in values:
        if field not in ROUND_AMENDABLE:
            raise NursingRefused(f"{field} cannot be amended.", code="not_amendable")
    new_values, errors = {}, {}
    for field, value in values.items():
        try:
            new = ObservationRound._meta.get_field(field).to_python(value)
            if field == "taken_at" and new is not None:
                new = _round_time(round_, new)
        except ValidationError as exc:
            errors[field] = exc.message_dict[field] if hasattr(exc, "error_dict") else exc.messages
            continue
        if new != getattr(round_, field):
            new_values[field] = new
    if errors:
        raise ValidationError(errors)
    if not new_values:
        raise NursingRefused(
            "The new value is the same as the signed one."
            if len(values) == 1
            else "Nothing was changed: every value is the same as the signed one.",
            code="unchanged",
        )
    old_values = {field: getattr(round_, field) for field in new_values}
    old_total, old_risk = round_.news2_total, round_.news2_risk
    for field, new in new_values.items():
        setattr(round_, field, new)
    round_.full_clean(exclude=["news2_total", "news2_risk", "news2_scores"])
    round_.score()
    round_.save()
    names = [str(ObservationRound._meta.get_field(field).verbose_name) for field in new_values]
    for (field, new), name in zip(new_values.items(), names, strict=True):
        _amendment_record(
            actor=actor,
            record=round_,
            field=name,
            old=_round_text(round_, field, old_values[field]),
            new=_round_text(round_, field, new),
            reason=reason,
            detail=f"amended {field}: {reason}",
        )
    old_score = f"{old_total} ({old_risk})"
    new_score = f"{round_.news2_total} ({round_.news2_risk})"
    if old_score != new_score:
        Amendment.objects.create(
            round=round_,
            field="NEWS2",
            old_value=old_score,
            new_value=new_score,
            reason=f"Scored again after amending {', '.join(names)}.",
            by=actor,
        )
    # A correction that moves the round into an escalation band is news to the physician.
    if (round_.news2_total, round_.news2_risk) != (old_total, old_risk):
        round_escalation_warn(round_)
    return round_


@transaction.atomic
def escalation_record(
    *, actor, round_: ObservationRound, physician=None, called_whom="", called_at=None, note=""
) -> Escalation:
    """Record who the nurse called about a round in an escalation band."""
    _require_clinician(actor, "nursing.add_escalation")
    if not round_.needs_escalation:
        raise NursingRefused(
            "This round is in the low-risk band: no escalation is due.", code="no_escalation_due"
        )
    if physician is None and not called_whom.strip():
        raise NursingRefused("Say who was called.", code="called_whom_missing")
    escalation = Escalation.objects.create(
        round=round_,
        physician=physician,
        called_whom=called_whom.strip(),
        called_at=called_at or timezone.now(),
        note=note,
        recorded_by=actor,
    )
    _audit(
        actor,
        AuditEvent.Action.CREATE,
        escalation,
        round_.appointment,
        f"escalation: called {escalation.callee}",
    )
    return escalation


# --- Discharge -----------------------------------------------------------------------


@transaction.atomic
def assessment_record(*, actor, appointment, scores: dict) -> DischargeAssessment:
    """Score the protocol's discharge scale from the nurse's entries, signed by `actor`."""
    _require_clinician(actor, "nursing.add_dischargeassessment")
    if appointment.status != Status.IN_RECOVERY:
        raise NursingRefused(
            "A discharge score is recorded while the patient is in recovery.",
            code="not_in_recovery",
        )
    protocol = rules.protocol_for(appointment.procedure_type)
    assessment = DischargeAssessment(
        appointment=appointment,
        scale=protocol.discharge_scale,
        scores=scores,
        threshold=protocol.discharge_threshold,
        signed_by=actor,
    )
    try:
        assessment.score()
    except ValueError as exc:
        raise ValidationError({"scores": str(exc)}) from None
    assessment.save()
    _audit(
        actor,
        AuditEvent.Action.CREATE,
        assessment,
        appointment,
        f"{assessment.get_scale_display()} {assessment.total}/10",
    )
    return assessment


@transaction.atomic
def assessment_amend(
    *, actor, assessment: DischargeAssessment, item: str, value: int, reason: str
) -> DischargeAssessment:
    _require_clinician(actor, "nursing.change_dischargeassessment")
    reason = reason.strip()
    if not reason:
        raise NursingRefused(NO_REASON, code="amendment_reason_missing")
    scale = discharge_scores.DISCHARGE_SCALES[assessment.scale]
    titles = {i.code: i.title for i in scale.items}
    if item not in titles:
        raise NursingRefused(f"{item} is not an item of the {scale.name}.", code="unknown_item")
    old = assessment.scores.get(item)
    if old == value:
        raise NursingRefused("The new score is the same as the signed one.", code="unchanged")
    old_total = assessment.total
    assessment.scores = {**assessment.scores, item: value}
    try:
        assessment.score()
    except ValueError as exc:
        raise ValidationError({"value": str(exc)}) from None
    assessment.save(update_fields=["scores", "total"])
    _amendment_record(
        actor=actor,
        record=assessment,
        field=titles[item],
        old=str(old),
        new=str(value),
        reason=reason,
        detail=f"amended discharge score {item}: {reason}",
        rescored=("Total", str(old_total), str(assessment.total)),
    )
    return assessment


@transaction.atomic
def patient_discharge(*, actor, appointment, override_reason: str = "") -> Discharge:
    """Send the patient home with the protocol's instructions, in the patient's language.

    The criteria are checked by clinic.nursing.guards (a physician may override with a
    reason); the status change to discharged starts the follow-up plan.
    """
    protocol = rules.protocol_for(appointment.procedure_type)
    language = appointment.patient.preferred_language
    appointment_transition(
        actor=actor, appointment=appointment, to=Status.DISCHARGED, override_reason=override_reason
    )
    discharge = Discharge.objects.create(
        appointment=appointment,
        assessment=appointment.discharge_assessments.order_by("-signed_at", "-pk").first(),
        discharged_by=actor,
        instructions=protocol.instructions_for(language),
        instructions_language=language,
    )
    _audit(actor, AuditEvent.Action.CREATE, discharge, appointment, "discharged")
    return discharge


# --- The physician's procedure note --------------------------------------------------

# A note is written once the procedure has started.
NOTE_STATUSES = (Status.IN_PROCEDURE, Status.IN_RECOVERY, Status.DISCHARGED, Status.COMPLETED)
NOTE_WRITE = "nursing.add_procedurenote"
NOTE_SIGN = "nursing.sign_procedurenote"
NOTE_AMEND = "nursing.change_procedurenote"
NOT_A_PHYSICIAN = "Only a physician writes, signs and amends the procedure note."


def _require_physician(actor, permission: str) -> None:
    if not clinical_role_allows(actor, permission):
        raise NursingRefused(NOT_A_PHYSICIAN, code="physician_only")


def note_rows(value, keys: tuple, name: str) -> list[dict]:
    """Rows of {key: text}, empty rows dropped; each kept row names its drug."""
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise ValidationError({name: "Give a list of rows, each with " + ", ".join(keys) + "."})
    rows = []
    for row in value:
        unknown = set(row) - set(keys)
        if unknown:
            raise ValidationError({name: f"Unknown column: {', '.join(sorted(unknown))}."})
        if not all(isinstance(v, str) for v in row.values()):
            raise ValidationError({name: "Every value of a row is text, e.g. “40 mg”."})
        if any("\x00" in v for v in row.values()):
            raise ValidationError({name: "Null characters are not allowed."})
        clean = {key: row.get(key, "").strip()[:60] for key in keys}
        if not any(clean.values()):
            continue
        if not clean["drug"]:
            raise ValidationError({name: "Name the drug of every row."})
        rows.append(clean)
    return rows


def _note_values(note, values: dict) -> dict:
    """The note's values after `values`, validated (ValidationError per field)."""
    unknown = set(values) - set(ProcedureNote.AMENDABLE)
    if unknown:
        raise ValidationError({f: "Not a value of the procedure note." for f in sorted(unknown)})
    clean = dict(values)
    if "levels" in clean:
        clean["levels"] = ", ".join(
            part.strip().upper() for part in (clean["levels"] or "").split(",") if part.strip()
        )
        if clean["levels"]:
            validate_levels_or_field(clean["levels"])
    if "injectates" in clean:
        clean["injectates"] = note_rows(clean["injectates"], INJECTATE_KEYS, "injectates")
    if "sedation" in clean:
        clean["sedation"] = note_rows(clean["sedation"], SEDATION_KEYS, "sedation")
    if "complications" in clean:
        codes = clean["complications"] or []
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise ValidationError({"complications": "Give a list of complication codes."})
        known = set(Complication.objects.filter(code__in=codes).values_list("code", flat=True))
        if set(codes) - known:
            raise ValidationError(
                {"complications": f"Unknown: {', '.join(sorted(set(codes) - known))}."}
            )
        clean["complications"] = list(dict.fromkeys(codes))
    for field, value in clean.items():
        model_field = ProcedureNote._meta.get_field(field)
        if value is None and not model_field.null:
            value = "" if not isinstance(model_field, JSONField) else []
        try:
            clean[field] = model_field.clean(value, note)
        except ValidationError as exc:
            raise ValidationError({field: exc.messages}) from None
    return clean


def validate_levels_or_field(levels: str) -> None:
    try:
        validate_levels(levels)
    except ValidationError as exc:
        raise ValidationError({"levels": exc.messages}) from None


def _lock_note(appointment) -> ProcedureNote | None:
    return (
        ProcedureNote.objects.select_for_update(of=("self",))
        .select_related("template")
        .filter(appointment=appointment)
        .first()
    )


def note_draft(appointment) -> ProcedureNote:
    """A new (unsaved) note of this appointment, pre-filled from its procedure type's
    template and the booked side and levels."""
    template = rules.note_template_for(appointment.procedure_type)
    return ProcedureNote(
        appointment=appointment,
        template=template if template.pk else None,
        levels=appointment.levels,
        laterality=appointment.laterality,
        approach=template.approach,
        imaging_modality=template.imaging_modality,
        contrast_agent=template.contrast_agent,
        injectates=[dict(row) for row in template.injectates],
        needle=template.needle,
        rf_temperature_c=template.rf_temperature_c if template.records_rf else None,
        rf_seconds=template.rf_seconds if template.records_rf else None,
        findings=template.findings,
        plan=template.plan,
    )


@transaction.atomic
def note_save(*, actor, appointment, values: dict, sign: bool = False) -> ProcedureNote:
    """Write the physician's draft note (created from the template the first time); with
    `sign`, sign it at once. A signed note is refused: amend it instead."""
    _require_physician(actor, NOTE_WRITE)
    if sign:
        _require_physician(actor, NOTE_SIGN)
    current = Appointment.objects.select_for_update().only("status").get(pk=appointment.pk)
    if current.status not in NOTE_STATUSES:
        raise NursingRefused(
            "The procedure note is written once the procedure has started; this appointment "
            f"is {current.get_status_display().lower()}.",
            code="note_not_due",
        )
    note = _lock_note(appointment)
    created = note is None
    if created:
        note = note_draft(appointment)
    elif note.is_signed:
        raise NursingRefused(
            "The note is signed: amend it, giving a reason.", code="note_already_signed"
        )
    for field, value in _note_values(note, values).items():
        setattr(note, field, value)
    note.written_by, note.written_at = actor, timezone.now()
    try:
        with transaction.atomic():
            note.save()
    except IntegrityError:
        raise NursingRefused(
            "The note was just written on another device; reload the page.",
            code="note_written_meanwhile",
        ) from None
    _audit(
        actor,
        AuditEvent.Action.CREATE if created else AuditEvent.Action.CHANGE,
        note,
        appointment,
        "procedure note draft saved",
    )
    if sign:
        note = note_sign(actor=actor, note=note)
    return note


@transaction.atomic
def note_sign(*, actor, note: ProcedureNote) -> ProcedureNote:
    """Sign the draft as the physician; from then on it changes only by amendment."""
    _require_physician(actor, NOTE_SIGN)
    note = (
        ProcedureNote.objects.select_for_update(of=("self",))
        .select_related("appointment__procedure_type", "template")
        .get(pk=note.pk)
    )
    if note.is_signed:
        raise NursingRefused("The note is already signed.", code="note_already_signed")
    problems = note.sign_problems()
    if problems:
        raise NursingRefused(problems, code="note_incomplete", detail="The note is not complete.")
    now = timezone.now()
    signed = ProcedureNote.objects.filter(pk=note.pk, signed_at__isnull=True).update(
        signed_by=actor, signed_at=now
    )
    if signed != 1:
        raise NursingRefused("The note is already signed.", code="note_already_signed")
    note.refresh_from_db()
    _audit(actor, AuditEvent.Action.CHANGE, note, note.appointment, "procedure note signed")
    return note


@transaction.atomic
def note_amend(*, actor, note: ProcedureNote, values: dict, reason: str) -> ProcedureNote:
    """Change values of a signed note, keeping each old and new value, who, when and why.

    The amendment rows are written first, then the note with its `revision` one up: the
    database (migration 0006) refuses a signed note's update without both.
    """
    _require_physician(actor, NOTE_AMEND)
    reason = (reason or "").strip()
    if not reason:
        raise NursingRefused(NO_REASON, code="amendment_reason_missing")
    note = (
        ProcedureNote.objects.select_for_update(of=("self",))
        .select_related("appointment")
        .get(pk=note.pk)
    )
    if not note.is_signed:
        raise NursingRefused(
            "This note is a draft: change it on the note page.", code="note_is_draft"
        )
    clean = _note_values(note, values)
    changed = {f: v for f, v in clean.items() if v != getattr(note, f)}
    if not changed:
        raise NursingRefused(
            "Nothing was changed: every value is the same as the signed one.", code="unchanged"
        )
    old = {f: note.display(f) for f in changed}
    for field, value in changed.items():
        setattr(note, field, value)
    problems = note.sign_problems()
    if problems:
        raise NursingRefused(problems, code="note_incomplete", detail="The note is not complete.")
    revision = note.revision + 1
    for field in changed:
        ProcedureNoteAmendment.objects.create(
            note=note,
            revision=revision,
            field=str(ProcedureNote._meta.get_field(field).verbose_name),
            old_value=old[field],
            new_value=note.display(field),
            reason=reason,
            by=actor,
        )
    updated = ProcedureNote.objects.filter(pk=note.pk, revision=note.revision).update(
        **changed, revision=revision
    )
    if updated != 1:
        raise NursingRefused(
            "The note was amended meanwhile; reload the page.", code="note_amended_meanwhile"
        )
    note.refresh_from_db()
    _audit(
        actor,
        AuditEvent.Action.CHANGE,
        note,
        note.appointment,
        f"procedure note amended ({', '.join(changed)}): {reason}",
    )
    return note

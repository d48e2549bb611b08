"""Nursing's part of a patient's GDPR rights (see clinic.privacy): the perioperative
record of each of their appointments."""

from django.db.models import Q

from clinic.nursing.models import (
    Amendment,
    ChecklistAnswer,
    Discharge,
    DischargeAssessment,
    Escalation,
    HardStopOverride,
    ObservationRound,
    ProcedureNote,
    ProcedureNoteAmendment,
    TimeOutConfirmation,
)
from clinic.privacy import REMOVED, Identifiers, Section, rows


def export_sections(patient) -> list[Section]:
    mine = {"appointment__patient": patient}
    return [
        Section(
            "checklist_answers",
            "Checklists",
            rows(
                ChecklistAnswer.objects.filter(**mine).select_related(
                    "item", "entered_by", "signed_by"
                ),
                [
                    "appointment_id",
                    "item.phase",
                    "item.label",
                    "value",
                    "entered_by",
                    "entered_at",
                    "signed_by",
                    "signed_at",
                ],
            ),
        ),
        Section(
            "time_outs",
            "Time-out confirmations",
            rows(
                TimeOutConfirmation.objects.filter(**mine).select_related("signed_by"),
                ["appointment_id", "role", "signed_by", "signed_at"],
            ),
        ),
        Section(
            "hard_stop_overrides",
            "Safety checks overridden",
            rows(
                HardStopOverride.objects.filter(**mine).select_related("by"),
                ["appointment_id", "stop", "to_status", "failures", "reason", "by", "at"],
            ),
        ),
        Section(
            "observation_rounds",
            "Observation rounds",
            rows(
                ObservationRound.objects.filter(**mine).select_related("signed_by"),
                [
                    "appointment_id",
                    "taken_at",
                    "respiration_rate",
                    "spo2",
                    "on_oxygen",
                    "systolic_bp",
                    "diastolic_bp",
                    "pulse",
                    "consciousness",
                    "temperature",
                    "pain_nrs",
                    "motor",
                    "sensory",
                    "puncture_site",
                    "headache",
                    "nausea",
                    "note",
                    "news2_total",
                    "news2_risk",
                    "signed_by",
                ],
            ),
        ),
        Section(
            "escalations",
            "Physician calls",
            rows(
                Escalation.objects.filter(round__appointment__patient=patient).select_related(
                    "physician", "recorded_by"
                ),
                ["round.appointment_id", "called_at", "callee", "note", "recorded_by"],
            ),
        ),
        Section(
            "discharge_assessments",
            "Discharge scores",
            rows(
                DischargeAssessment.objects.filter(**mine).select_related("signed_by"),
                [
                    "appointment_id",
                    "scale",
                    "scores",
                    "total",
                    "threshold",
                    "signed_by",
                    "signed_at",
                ],
            ),
        ),
        Section(
            "discharges",
            "Discharge",
            rows(
                Discharge.objects.filter(**mine).select_related("discharged_by"),
                [
                    "appointment_id",
                    "discharged_at",
                    "discharged_by",
                    "instructions_language",
                    "instructions",
                ],
            ),
        ),
        Section(
            "procedure_notes",
            "Procedure notes",
            rows(
                ProcedureNote.objects.filter(**mine).select_related("signed_by"),
                [
                    "appointment_id",
                    *ProcedureNote.AMENDABLE,
                    "signed_by",
                    "signed_at",
                ],
            ),
        ),
        Section(
            "procedure_note_amendments",
            "Amendments to procedure notes",
            rows(
                ProcedureNoteAmendment.objects.filter(
                    note__appointment__patient=patient
                ).select_related("by"),
                ["field", "old_value", "new_value", "reason", "by", "at"],
            ),
        ),
        Section(
            "amendments",
            "Amendments to signed records",
            rows(
                _amendments(patient).select_related("by"),
                ["field", "old_value", "new_value", "reason", "by", "at"],
            ),
        ),
    ]


def _amendments(patient):
    return Amendment.objects.filter(
        Q(answer__appointment__patient=patient)
        | Q(round__appointment__patient=patient)
        | Q(assessment__appointment__patient=patient)
    )


def patient_rows(patient) -> list:
    mine = {"appointment__patient": patient}
    return [
        ChecklistAnswer.objects.filter(**mine),
        HardStopOverride.objects.filter(**mine),
        ObservationRound.objects.filter(**mine),
        Escalation.objects.filter(round__appointment__patient=patient),
        DischargeAssessment.objects.filter(**mine),
        Discharge.objects.filter(**mine),
        _amendments(patient),
        # Drafts only: a signed note is scrubbed through an amendment (see `anonymise`).
        ProcedureNote.objects.filter(**mine, signed_at__isnull=True),
        ProcedureNoteAmendment.objects.filter(note__appointment__patient=patient),
    ]


def anonymise(patient) -> None:
    """Nothing to blank outright: the record keeps its text, less identifying values.

    A signed procedure note changes only by amendment (the database insists, migration
    0006): its identifying values are removed through one, which keeps no old text.
    """
    identifiers = Identifiers.of(patient)
    if not identifiers.values:
        return
    notes = ProcedureNote.objects.select_for_update().filter(
        appointment__patient=patient, signed_at__isnull=False
    )
    for note in notes:
        changed = {}
        for name in ProcedureNote.AMENDABLE:
            value = getattr(note, name)
            if isinstance(value, str):
                new = identifiers.redact(value)
            elif isinstance(value, list):
                new = [
                    {k: identifiers.redact(v) for k, v in row.items()}
                    if isinstance(row, dict)
                    else row
                    for row in value
                ]
            else:
                continue
            if new != value:
                changed[name] = new
        if not changed:
            continue
        revision = note.revision + 1
        ProcedureNoteAmendment.objects.create(
            note=note,
            revision=revision,
            field="Identifying values",
            old_value=REMOVED,
            new_value=REMOVED,
            reason="The patient's identifying values were removed (GDPR Art. 17).",
            by=None,
        )
        ProcedureNote.objects.filter(pk=note.pk).update(**changed, revision=revision)

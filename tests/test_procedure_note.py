"""Issue 14: the physician's procedure note. A template per procedure type pre-fills it;
only a physician writes and signs it; once signed it changes only by amendment (old → new,
who, when, why), and the database itself refuses anything else."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from clinic.models import Allergy, AuditEvent, ProcedureType
from clinic.nursing import rules, selectors, services
from clinic.nursing.models import ProcedureNote, ProcedureNoteAmendment, ProcedureNoteTemplate
from scheduling.models import Status
from tests.factories import TodaysAppointmentFactory, seeded

RFA_VALUES = {
    "levels": "l4-l5, l5-s1",
    "laterality": "right",
    "fluoroscopy_seconds": 42,
    "dap_mgy_cm2": "310.5",
    "rf_temperature_c": 80,
    "rf_seconds": 90,
    "rf_lesions": 4,
    "sedation": [{"drug": "Midazolam", "dose": "2 mg"}],
    "complications": [],
    "findings": "Good sensory and motor testing at each level.",
    "plan": "Review in clinic at 3 months.",
}


@pytest.fixture
def rfa(calendar, patient):
    """An RFA in recovery: the procedure is done, the note is due."""
    return TodaysAppointmentFactory(
        calendar=calendar, patient=patient, code="rfa", status=Status.IN_RECOVERY
    )


@pytest.fixture
def signed(rfa, physician):
    return services.note_save(actor=physician, appointment=rfa, values=RFA_VALUES, sign=True)


def test_it_seeds_a_template_for_every_procedure_type_of_the_catalogue(db):
    assert ProcedureNoteTemplate.objects.count() == ProcedureType.objects.count() > 0
    assert seeded("rfa").note_template.records_rf
    assert not seeded("esi-transforaminal").note_template.records_rf
    assert "Dexamethasone" in str(seeded("esi-transforaminal").note_template.injectates)


def test_it_starts_a_note_from_its_procedure_types_template_and_the_booking(rfa, physician):
    note = services.note_save(actor=physician, appointment=rfa, values={})
    template = rfa.procedure_type.note_template
    assert note.template == template
    assert note.approach == template.approach and note.needle == template.needle
    assert note.injectates == template.injectates
    assert (note.rf_temperature_c, note.rf_seconds) == (80, 90)
    assert (note.levels, note.laterality) == (rfa.levels, rfa.laterality)
    assert not note.is_signed


def test_it_uses_the_template_a_manager_edited(rfa, physician):
    ProcedureNoteTemplate.objects.filter(procedure_type=rfa.procedure_type).update(
        needle="20G RF cannula, 145 mm", rf_temperature_c=85
    )
    note = services.note_save(actor=physician, appointment=rfa, values={})
    assert (note.needle, note.rf_temperature_c) == ("20G RF cannula, 145 mm", 85)


def test_it_lets_a_physician_write_and_sign_a_note(signed, physician, rfa):
    assert signed.is_signed and signed.signed_by == physician
    assert signed.levels == "L4-L5, L5-S1"
    assert signed.dap_mgy_cm2 == Decimal("310.5")
    assert AuditEvent.objects.filter(
        object_type="nursing.ProcedureNote", detail="procedure note signed", user=physician
    ).exists()
    assert AuditEvent.objects.filter(
        object_type="nursing.ProcedureNote", action=AuditEvent.Action.CREATE, patient=rfa.patient
    ).exists()


@pytest.mark.parametrize("persona", ["nurse", "manager", "admin", "front_desk", "outsider"])
def test_it_refuses_anyone_but_a_physician_writing_or_signing(persona, personas, rfa, physician):
    actor = personas[persona]
    with pytest.raises(services.NursingRefused) as refused:
        services.note_save(actor=actor, appointment=rfa, values=RFA_VALUES)
    assert refused.value.reasons[0].code == "physician_only"
    draft = services.note_save(actor=physician, appointment=rfa, values=RFA_VALUES)
    with pytest.raises(services.NursingRefused):
        services.note_sign(actor=actor, note=draft)
    assert not ProcedureNote.objects.get(pk=draft.pk).is_signed


def test_it_refuses_a_superuser_without_break_glass(rfa, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    with pytest.raises(services.NursingRefused):
        services.note_save(actor=root, appointment=rfa, values=RFA_VALUES, sign=True)


def test_it_refuses_a_note_before_the_procedure_starts(calendar, patient, physician):
    waiting = TodaysAppointmentFactory(calendar=calendar, patient=patient, code="rfa")
    with pytest.raises(services.NursingRefused) as refused:
        services.note_save(actor=physician, appointment=waiting, values=RFA_VALUES)
    assert refused.value.reasons[0].code == "note_not_due"


def test_it_says_what_is_missing_before_signing(rfa, physician):
    values = {**RFA_VALUES, "fluoroscopy_seconds": None, "rf_lesions": None, "plan": ""}
    with pytest.raises(services.NursingRefused) as refused:
        services.note_save(actor=physician, appointment=rfa, values=values, sign=True)
    assert refused.value.messages == [
        "Enter the fluoroscopy time and dose (DAP).",
        "Enter the RF temperature, time per lesion and number of lesions.",
        "Enter the plan.",
    ]
    assert not ProcedureNote.objects.filter(signed_at__isnull=False).exists()


@pytest.mark.parametrize(
    "values, field",
    [
        ({"levels": "L4-L9"}, "levels"),
        ({"rf_temperature_c": 120}, "rf_temperature_c"),
        ({"injectates": [{"drug": "", "dose": "40 mg"}]}, "injectates"),
        ({"injectates": [{"drug": "X", "colour": "red"}]}, "injectates"),
        ({"complications": ["alien-abduction"]}, "complications"),
        ({"laterality": "up"}, "laterality"),
        ({"signed_at": "2020-01-01"}, "signed_at"),
    ],
)
def test_it_refuses_impossible_values_naming_the_field(rfa, physician, values, field):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as invalid:
        services.note_save(actor=physician, appointment=rfa, values=values)
    assert field in invalid.value.message_dict


def test_it_never_edits_a_signed_note_in_place(signed, physician, rfa):
    with pytest.raises(services.NursingRefused) as refused:
        services.note_save(actor=physician, appointment=rfa, values={"plan": "Other"})
    assert refused.value.reasons[0].code == "note_already_signed"
    with pytest.raises(services.NursingRefused):
        services.note_sign(actor=physician, note=signed)


@pytest.mark.parametrize(
    "change",
    [
        {"plan": "Rewritten"},
        {"revision": 1},
        {"signed_at": None, "signed_by": None},
    ],
)
def test_the_database_refuses_a_direct_update_of_a_signed_note(signed, change):
    with pytest.raises(IntegrityError), transaction.atomic():
        ProcedureNote.objects.filter(pk=signed.pk).update(**change)
    assert ProcedureNote.objects.get(pk=signed.pk).plan == RFA_VALUES["plan"]


def test_the_database_refuses_deleting_a_signed_note(signed):
    with pytest.raises(IntegrityError), transaction.atomic():
        ProcedureNote.objects.filter(pk=signed.pk).delete()


def test_the_database_lets_a_draft_change(rfa, physician):
    draft = services.note_save(actor=physician, appointment=rfa, values=RFA_VALUES)
    ProcedureNote.objects.filter(pk=draft.pk).update(plan="Changed")
    assert ProcedureNote.objects.get(pk=draft.pk).plan == "Changed"


def test_it_amends_a_signed_note_keeping_old_and_new(signed, physician):
    note = services.note_amend(
        actor=physician,
        note=signed,
        values={"levels": "L3-L4, L4-L5", "rf_lesions": 6},
        reason="Levels dictated wrongly",
    )
    assert note.levels == "L3-L4, L4-L5" and note.rf_lesions == 6 and note.revision == 1
    rows = {
        a.field: (a.old_value, a.new_value, a.reason, a.revision, a.by)
        for a in ProcedureNoteAmendment.objects.filter(note=note)
    }
    assert rows == {
        "levels treated": ("L4-L5, L5-S1", "L3-L4, L4-L5", "Levels dictated wrongly", 1, physician),
        "RF lesions": ("4", "6", "Levels dictated wrongly", 1, physician),
    }
    assert note.signed_by == physician and note.is_signed
    assert AuditEvent.objects.filter(
        object_type="nursing.ProcedureNote", detail__startswith="procedure note amended"
    ).exists()
    again = services.note_amend(
        actor=physician, note=note, values={"plan": "Repeat in 12 months"}, reason="Plan"
    )
    assert again.revision == 2


def test_it_refuses_an_amendment_without_reason_or_change_or_by_a_nurse(signed, physician, nurse):
    with pytest.raises(services.NursingRefused, match="reason"):
        services.note_amend(actor=physician, note=signed, values={"plan": "x"}, reason=" ")
    with pytest.raises(services.NursingRefused, match="Nothing was changed"):
        services.note_amend(
            actor=physician, note=signed, values={"plan": RFA_VALUES["plan"]}, reason="r"
        )
    with pytest.raises(services.NursingRefused, match="Only a physician"):
        services.note_amend(actor=nurse, note=signed, values={"plan": "x"}, reason="r")
    assert not ProcedureNoteAmendment.objects.exists()


def test_it_shows_the_contrast_allergy(rfa):
    Allergy.objects.create(patient=rfa.patient, kind=Allergy.Kind.CONTRAST, reaction="Hives")
    Allergy.objects.create(patient=rfa.patient, kind=Allergy.Kind.LATEX)
    assert [a.reaction for a in rules.contrast_allergies(rfa.patient)] == ["Hives"]


def test_it_gives_the_levels_treated_of_signed_notes_only(signed, calendar, patient, physician):
    other = TodaysAppointmentFactory(
        calendar=calendar,
        patient=patient,
        code="rfa",
        status=Status.IN_RECOVERY,
        starts_at=signed.appointment.starts_at - datetime.timedelta(days=1),
    )
    services.note_save(actor=physician, appointment=other, values=RFA_VALUES)  # a draft
    treated = selectors.levels_treated([signed.appointment_id, other.pk])
    assert list(treated) == [signed.appointment_id]
    assert treated[signed.appointment_id].levels == ["L4-L5", "L5-S1"]
    assert treated[signed.appointment_id].laterality == "right"
    evidence = selectors.signed_notes_of_patient(patient.pk)
    assert [(e.procedure_code, e.levels) for e in evidence] == [("rfa", ["L4-L5", "L5-S1"])]


def test_it_removes_the_patients_identifying_values_from_a_signed_note_by_amendment(
    signed, physician, manager
):
    from clinic.services_privacy import patient_anonymise

    services.note_amend(
        actor=physician,
        note=signed,
        values={"findings": "Karen Jensen tolerated it well."},
        reason="Findings",
    )
    patient_anonymise(actor=manager, patient=signed.appointment.patient, reason="Request")
    note = ProcedureNote.objects.get(pk=signed.pk)
    assert "Karen" not in note.findings and note.revision == 2
    assert not ProcedureNoteAmendment.objects.filter(old_value__contains="Karen").exists()
    assert not ProcedureNoteAmendment.objects.filter(new_value__contains="Karen").exists()


def test_it_gives_the_pathway_rules_the_levels_a_signed_note_treated(signed, rfa):
    from scheduling import pathway

    assert selectors.pathway_levels_treated in pathway.PROVIDERS["levels"]
    assert selectors.pathway_levels_treated([rfa]) == {rfa.pk: "L4-L5, L5-S1"}

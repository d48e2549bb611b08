"""Issue 14: the procedure note's pages. A physician writes and signs; a nurse reads; a
signed note is never edited on a page, only amended (old → new shown); it prints."""

import pytest
from django.urls import reverse

from clinic.models import Allergy, AuditEvent, StaffProfile
from clinic.nursing import services
from clinic.nursing.models import ProcedureNote, ProcedureNoteAmendment, ProcedureNoteTemplate
from scheduling.models import Status
from tests.factories import ProcedureTypeFactory, SiteFactory, TodaysAppointmentFactory, seeded
from tests.test_procedure_note import RFA_VALUES

ROLES = ["front_desk", "nurse", "physician", "manager", "admin", "outsider"]
READERS = {"nurse", "physician", "manager", "admin"}
PHYSICIAN = {"physician"}
EDITORS = {"manager", "admin"}


@pytest.fixture
def rfa(calendar, patient):
    return TodaysAppointmentFactory(
        calendar=calendar, patient=patient, code="rfa", status=Status.IN_RECOVERY
    )


@pytest.fixture
def signed(rfa, physician):
    return services.note_save(actor=physician, appointment=rfa, values=RFA_VALUES, sign=True)


def form_data(note_page_form, **changes):
    """The form as the page rendered it, with `changes`."""
    data = {}
    for name in note_page_form.fields:
        value = note_page_form[name].value()
        if isinstance(value, list):
            data[name] = value
        elif value is not None:
            data[name] = str(value)
    data.update(changes)
    return data


def test_it_lets_a_physician_write_and_sign_the_note_on_the_page(client, physician, rfa):
    client.force_login(physician)
    url = reverse("nursing_note_edit", args=[rfa.pk])
    form = client.get(url).context["form"]
    data = form_data(
        form,
        levels="L4-L5, L5-S1",
        laterality="right",
        fluoroscopy_seconds="40",
        dap_mgy_cm2="250",
        rf_lesions="4",
        injectate_2_drug="Triamcinolone",
        injectate_2_dose="20 mg",
        sedation_0_drug="Midazolam",
        sedation_0_dose="2 mg",
        complications=["vasovagal"],
        findings="Good stimulation thresholds.",
        sign="",
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["refusal"]
    note = ProcedureNote.objects.get(appointment=rfa)
    assert note.is_signed and note.signed_by == physician
    assert note.injectates[-1]["drug"] == "Triamcinolone"
    assert note.sedation == [{"drug": "Midazolam", "dose": "2 mg"}]
    page = client.get(reverse("nursing_note", args=[rfa.pk])).content.decode()
    assert "Vasovagal reaction" in page and "Signed by" in page and "Amend" in page


def test_it_says_what_is_missing_when_signing_too_early(client, physician, rfa):
    client.force_login(physician)
    url = reverse("nursing_note_edit", args=[rfa.pk])
    form = client.get(url).context["form"]
    response = client.post(url, form_data(form, sign=""))
    assert response.status_code == 409
    assert "Enter the fluoroscopy time and dose (DAP)." in response.content.decode()
    assert not ProcedureNote.objects.filter(signed_at__isnull=False).exists()
    # Saving the draft keeps what was written.
    response = client.post(url, form_data(form, findings="So far", save=""))
    assert response.status_code == 302
    assert ProcedureNote.objects.get(appointment=rfa).findings == "So far"


def test_it_never_edits_a_signed_note_on_the_page(client, physician, signed, rfa):
    client.force_login(physician)
    url = reverse("nursing_note_edit", args=[rfa.pk])
    assert client.get(url)["Location"] == reverse("nursing_note_amend", args=[rfa.pk])
    response = client.post(url, {"plan": "Rewritten", "sign": ""})
    assert response.status_code == 302
    assert ProcedureNote.objects.get(pk=signed.pk).plan == RFA_VALUES["plan"]


def test_it_amends_on_the_page_and_shows_old_and_new(client, physician, nurse, signed, rfa):
    client.force_login(physician)
    url = reverse("nursing_note_amend", args=[rfa.pk])
    form = client.get(url).context["form"]
    response = client.post(url, form_data(form, levels="L3-L4", reason=""))
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    response = client.post(url, form_data(form, levels="L3-L4", reason="Wrong level typed"))
    assert response.status_code == 302
    amendment = ProcedureNoteAmendment.objects.get()
    assert (amendment.old_value, amendment.new_value) == ("L4-L5, L5-S1", "L3-L4")
    client.force_login(nurse)
    page = client.get(reverse("nursing_note", args=[rfa.pk])).content.decode()
    assert "<del>L4-L5, L5-S1</del> → <ins>L3-L4</ins>" in page
    assert "Wrong level typed" in page
    assert "Amend" not in page.split("note-heading")[0].split("Printable note")[1]


def test_it_prints_the_note(client, nurse, signed, rfa):
    client.force_login(nurse)
    response = client.get(reverse("nursing_note_print", args=[rfa.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "@media print" in page and 'data-testid="note-print"' in page
    assert "L4-L5, L5-S1" in page and "Midazolam 2 mg" in page and "80 °C" in page
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.VIEW, detail="procedure note printed", user=nurse
    ).exists()


def test_it_shows_the_contrast_allergy_flag(client, physician, rfa):
    Allergy.objects.create(
        patient=rfa.patient, kind=Allergy.Kind.CONTRAST, substance="Iohexol", reaction="Hives"
    )
    client.force_login(physician)
    page = client.get(reverse("nursing_note_edit", args=[rfa.pk])).content.decode()
    assert 'data-testid="contrast-allergy"' in page and "Hives" in page


PAGES = [
    ("nursing_note", READERS),
    ("nursing_note_print", READERS),
    ("nursing_note_edit", set()),  # signed: the physician is sent to the amendment
    ("nursing_note_amend", PHYSICIAN),
]


@pytest.mark.parametrize(("name", "allowed"), PAGES)
def test_it_opens_each_note_page_only_to_its_roles(client, personas, signed, rfa, name, allowed):
    url = reverse(name, args=[rfa.pk])
    for role in ROLES:
        client.force_login(personas[role])
        status = client.get(url).status_code
        if name == "nursing_note_edit" and role == "physician":
            assert status == 302
            continue
        assert status == (200 if role in allowed else 403), f"{role} on {name}: {status}"


def test_it_refuses_the_nurse_writing_or_signing(client, nurse, rfa):
    client.force_login(nurse)
    url = reverse("nursing_note_edit", args=[rfa.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"plan": "x", "sign": ""}).status_code == 403
    assert not ProcedureNote.objects.exists()


def test_it_refuses_another_sites_physician(client, physician, signed, rfa):
    StaffProfile.objects.get_or_create(user=physician)[0].sites.set([SiteFactory()])
    client.force_login(physician)
    for name in ("nursing_note", "nursing_note_print", "nursing_note_amend"):
        assert client.get(reverse(name, args=[rfa.pk])).status_code == 403, name


def test_it_audits_reading_the_note(client, nurse, signed, rfa):
    client.force_login(nurse)
    client.get(reverse("nursing_note", args=[rfa.pk]))
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.VIEW, detail="procedure note", patient=rfa.patient
    ).exists()


@pytest.mark.parametrize(
    ("name", "allowed"),
    [("nursing_note_template_list", READERS), ("nursing_note_template_edit", EDITORS)],
)
def test_it_lets_managers_edit_the_templates(client, personas, name, allowed):
    args = [seeded("rfa").pk] if name.endswith("edit") else []
    url = reverse(name, args=args)
    for role in ROLES:
        client.force_login(personas[role])
        status = client.get(url).status_code
        assert status == (200 if role in allowed else 403), f"{role} on {name}: {status}"


def test_a_managers_template_edit_takes_effect(client, manager, physician, rfa):
    client.force_login(manager)
    url = reverse("nursing_note_template_edit", args=[rfa.procedure_type.pk])
    form = client.get(url).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(
        needle="20G RF cannula, 145 mm",
        imaging_modality="fluoroscopy",
        injectates='[{"drug": "Lidocaine", "concentration": "2%"}]',
        records_rf="on",
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    client.force_login(physician)
    page = client.get(reverse("nursing_note_edit", args=[rfa.pk])).content.decode()
    assert "20G RF cannula, 145 mm" in page


def test_it_lists_the_templates_without_a_query_each(client, manager, assert_query_count_flat):
    def add_rows(count):
        for _ in range(count):
            ProcedureNoteTemplate.objects.create(procedure_type=ProcedureTypeFactory())

    client.force_login(manager)
    assert_query_count_flat(client, reverse("nursing_note_template_list"), add_rows)

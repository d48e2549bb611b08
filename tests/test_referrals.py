"""Issue 14, item 1: referral and indication on the patient. Nina the nurse records Karen
Jensen's referral; the front desk books the procedure for it."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent, ConservativeCare, Diagnosis, Imaging, Indication

pytestmark = pytest.mark.django_db


def formset(prefix, rows):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for n, row in enumerate(rows):
        data |= {f"{prefix}-{n}-{key}": value for key, value in row.items()}
    return data


def referral_post(**changes):
    today = timezone.localdate()
    return (
        {
            "referrer": "Dr Lund, general practice",
            "referred_on": today.isoformat(),
            "diagnosis": Diagnosis.objects.get(code="M54.4").pk,
            "diagnosis_note": "Left L5 radicular pain",
            "symptoms_since": (today - datetime.timedelta(weeks=10)).isoformat(),
        }
        | formset(
            "care",
            [
                {
                    "kind": "physiotherapy",
                    "detail": "6 sessions",
                    "started": (today - datetime.timedelta(weeks=8)).isoformat(),
                    "ended": (today - datetime.timedelta(weeks=2)).isoformat(),
                },
                {"kind": "medication", "detail": "Ibuprofen", "started": "", "ended": ""},
            ][:1],
        )
        | formset(
            "imaging",
            [{"modality": "mri", "taken_on": today.isoformat(), "finding": "L4-L5 disc bulge"}],
        )
        | changes
    )


def test_it_seeds_about_twenty_spine_pain_diagnoses(db):
    assert Diagnosis.objects.count() >= 20
    assert Diagnosis.objects.get(code="M54.5").text == "Low back pain"


def test_it_finds_a_diagnosis_by_code_or_words(client, nurse):
    client.force_login(nurse)
    by_word = client.get(reverse("diagnosis_options"), {"q": "sciatica"}).content.decode()
    assert "M54.3 Sciatica" in by_word and "M54.4 Lumbago with sciatica" in by_word
    assert "M48.0" not in by_word
    by_code = client.get(reverse("diagnosis_options"), {"q": "M48"}).content.decode()
    assert "M48.0 Spinal stenosis" in by_code and "M54" not in by_code


def test_it_records_a_referral_with_care_tried_and_imaging(client, nurse, patient):
    client.force_login(nurse)
    response = client.post(reverse("indication_create", args=[patient.pk]), referral_post())
    assert response.status_code == 302
    indication = Indication.objects.get(patient=patient)
    assert indication.diagnosis.code == "M54.4" and indication.symptom_weeks == 10
    assert indication.created_by == nurse
    care = ConservativeCare.objects.get(indication=indication)
    assert care.kind == "physiotherapy" and care.ended is not None
    assert Imaging.objects.get(indication=indication).finding == "L4-L5 disc bulge"
    assert AuditEvent.objects.filter(
        patient=patient, action="create", detail="referral and indication"
    ).exists()
    page = client.get(patient.get_absolute_url()).content.decode()
    assert "M54.4 Lumbago with sciatica" in page and "(10 weeks)" in page
    assert "Physiotherapy (6 sessions)" in page and "MRI" in page


def test_it_changes_a_referral_on_its_page(client, nurse, patient):
    indication = Indication.objects.create(patient=patient, referrer="Dr Lund")
    client.force_login(nurse)
    url = reverse("indication_edit", args=[patient.pk, indication.pk])
    assert client.get(url).status_code == 200
    client.post(url, referral_post(referrer="Dr Holm"))
    indication.refresh_from_db()
    assert indication.referrer == "Dr Holm"


def test_it_refuses_care_that_ends_before_it_starts(client, nurse, patient):
    client.force_login(nurse)
    data = referral_post()
    data["care-0-ended"] = "2000-01-01"
    response = client.post(reverse("indication_create", args=[patient.pk]), data)
    assert response.status_code == 200
    assert "cannot end before it started" in response.content.decode()
    assert not Indication.objects.exists()


def test_it_refuses_symptoms_starting_in_the_future(client, nurse, patient):
    client.force_login(nurse)
    future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    response = client.post(
        reverse("indication_create", args=[patient.pk]), referral_post(symptoms_since=future)
    )
    assert response.status_code == 200 and not Indication.objects.exists()


def test_it_keeps_another_patients_referral_off_this_patients_page(
    client, nurse, patient, other_patient
):
    theirs = Indication.objects.create(patient=other_patient, referrer="Dr Lund")
    client.force_login(nurse)
    url = reverse("indication_edit", args=[patient.pk, theirs.pk])
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("role", "status"),
    [("front_desk", 403), ("nurse", 200), ("physician", 200), ("manager", 403), ("admin", 200)],
)
def test_it_lets_the_clinical_roles_change_a_referral(client, personas, patient, role, status):
    indication = Indication.objects.create(patient=patient)
    client.force_login(personas[role])
    url = reverse("indication_edit", args=[patient.pk, indication.pk])
    assert client.get(url).status_code == status

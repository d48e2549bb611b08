"""The patient emails in English and Danish, their links and headers, and the opt-out."""

import datetime
import json
import time
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import resolve
from django.utils import timezone

from clinic.models import AuditEvent, Patient, ProcedureType
from followup.emails import URL_NAMES, invitation_message, link
from followup.models import InstrumentWording, Invitation
from followup.services import patient_unsubscribe, reminder_schedule
from followup.tokens import TokenExpired, TokenInvalid, make_token, read_token
from tests.factories import AppointmentFactory, InvitationFactory

K, S = Invitation.Kind, Invitation.Status
DAY = datetime.timedelta(days=1)


@pytest.fixture
def rfa_appointment(calendar, patient):
    """Karen (Danish) has RFA with sedation at 09:00 on the next Monday."""
    from tests.factories import local

    rfa = ProcedureType.objects.get(code="rfa")
    return AppointmentFactory(
        calendar=calendar,
        patient=patient,
        procedure_type=rfa,
        starts_at=local(calendar["monday"], 9, 0),
    )


def reminder_for(appointment):
    reminder = reminder_schedule(appointment=appointment)
    return Invitation.objects.select_related(
        "patient", "appointment__site", "appointment__procedure_type"
    ).get(pk=reminder.pk)


def forbidden_words(appointment):
    """What an inbox must not show: the procedure and the patient's history."""
    return [
        appointment.procedure_type.name.lower(),
        "radiofrequency",
        "ablation",
        "injection, ",
        appointment.patient.spinal_history.lower(),
        "radiculopathy",
        "herniation",
    ]


def test_it_writes_the_reminder_in_danish(rfa_appointment):
    message = invitation_message(reminder_for(rfa_appointment))
    html = message.alternatives[0].content
    assert message.subject.startswith("Påmindelse: din aftale mandag den ")
    assert "kl. 09:00" in message.subject
    assert "Kære Karen" in message.body
    assert "Test Spine Centre" in message.body
    # Sedation: fasting and escort advice; intermediate bleeding risk: the protocol.
    assert "du må ikke spise i 6 timer" in message.body
    assert "En voksen skal følge dig hjem" in message.body
    assert "blodfortyndende" in message.body
    assert settings.CLINIC_NAME in message.body and settings.CLINIC_PHONE in message.body
    assert "Jeg kommer" in html and "Jeg har brug for en anden tid" in html
    assert "Besvar spørgsmålene" in html  # the baseline travels with the reminder
    for text in (message.subject, message.body, html):
        for word in forbidden_words(rfa_appointment):
            assert word not in text.lower(), word


def test_it_writes_the_reminder_in_english(rfa_appointment):
    Patient.objects.filter(pk=rfa_appointment.patient_id).update(preferred_language="en")
    message = invitation_message(reminder_for(rfa_appointment))
    assert message.subject.startswith("Reminder: your appointment on Monday ")
    assert "at 09:00" in message.subject
    assert "Dear Karen," in message.body
    assert "do not eat for 6 hours" in message.body
    assert "Questions? Call" in message.body
    for word in forbidden_words(rfa_appointment):
        assert word not in message.body.lower()


def test_it_links_the_reminder_to_confirm_reschedule_and_the_baseline(rfa_appointment):
    reminder = reminder_for(rfa_appointment)
    message = invitation_message(reminder)
    urls = [word for word in message.body.split() if word.startswith(settings.SITE_URL)]
    names = [resolve(url.removeprefix(settings.SITE_URL)).url_name for url in urls]
    assert names == [
        "appointment_confirm",
        "appointment_reschedule_request",
        "survey_start",
        "unsubscribe",
    ]
    confirm_token = resolve(urls[0].removeprefix(settings.SITE_URL)).kwargs["token"]
    assert read_token(confirm_token, purpose="confirm") == reminder.pk
    survey_token = resolve(urls[2].removeprefix(settings.SITE_URL)).kwargs["token"]
    baseline = rfa_appointment.invitations.get(kind=K.BASELINE)
    assert read_token(survey_token, purpose="survey") == baseline.pk


def test_it_writes_each_link_as_reverse_would_under_any_script_prefix(db, settings):
    from django.urls import get_script_prefix, reverse, set_script_prefix

    before = get_script_prefix()
    try:
        for prefix in ("/", "/clinic/"):
            set_script_prefix(prefix)
            for purpose in ("survey", "confirm", "reschedule", "unsubscribe"):
                url = link(purpose, 42)
                token = url.rstrip("/").rsplit("/", 1)[1]
                assert read_token(token, purpose=purpose) == 42
                assert url == settings.SITE_URL + reverse(URL_NAMES[purpose], args=[token])
        settings.SITE_URL = "https://clinic.example.org"
        assert link("survey", 7).startswith("https://clinic.example.org/clinic/s/")
    finally:
        set_script_prefix(before)


def test_it_attaches_the_appointment_as_an_ics_file(rfa_appointment):
    message = invitation_message(reminder_for(rfa_appointment))
    ((name, content, mimetype),) = message.attachments
    assert (name, mimetype) == ("appointment.ics", "text/calendar")
    assert "BEGIN:VEVENT" in content and "Radiofrequency" not in content


def test_it_adds_one_click_unsubscribe_headers(rfa_appointment):
    reminder = reminder_for(rfa_appointment)
    headers = invitation_message(reminder).extra_headers
    url = headers["List-Unsubscribe"].strip("<>")
    assert resolve(url.removeprefix(settings.SITE_URL)).url_name == "unsubscribe"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["Message-ID"] == f"<invitation-{reminder.pk}-send-1@127.0.0.1>"


def test_it_gives_each_multipart_its_own_boundary(rfa_appointment):
    """Set up front (followup.emails._PatientEmail); a reader finds every part."""
    import email

    first = invitation_message(reminder_for(rfa_appointment)).message()
    second = invitation_message(reminder_for(rfa_appointment)).message()
    boundaries = [part.get_boundary() for part in first.walk() if part.is_multipart()]
    assert len(boundaries) == 2  # mixed (the .ics), alternative (text and HTML)
    assert len(set(boundaries)) == 2
    assert all(len(b) > 30 for b in boundaries)
    assert not set(boundaries) & {p.get_boundary() for p in second.walk() if p.is_multipart()}
    parsed = email.message_from_bytes(first.as_bytes(linesep="\r\n"))
    types = [part.get_content_type() for part in parsed.walk()]
    assert types == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    text = parsed.get_payload(0).get_payload(0).get_payload(decode=True).decode()
    assert "Kære Karen" in text


def test_it_writes_the_headers_as_the_standard_library_would(rfa_appointment):
    """PLAIN_HEADERS skips the folding work only where it changes nothing: the same bytes as
    compat32 (Django's policy) for a Danish reminder, its English twin and a survey email."""
    import email.policy

    danish = invitation_message(reminder_for(rfa_appointment)).message()
    Patient.objects.filter(pk=rfa_appointment.patient_id).update(preferred_language="en")
    english = invitation_message(reminder_for(rfa_appointment)).message()
    survey = invitation_message(InvitationFactory(appointment=rfa_appointment)).message()
    for message in (danish, english, survey):
        ours = message.as_bytes(linesep="\r\n")
        message.policy = email.policy.compat32
        assert ours == message.as_bytes(linesep="\r\n")
    assert "=?utf-8?" in danish["Subject"]  # a Danish subject is encoded, as before


def test_it_writes_what_django_writes_but_the_boundaries(rfa_appointment):
    """Byte for byte Django's own message (boundaries and date aside), Danish and English,
    reminder and survey: the remembered Subject header included."""
    from django.core.mail import BadHeaderError, EmailMultiAlternatives

    def multiparts(message):
        return [part for part in message.walk() if part.is_multipart()]

    emails = [invitation_message(reminder_for(rfa_appointment))]
    emails.append(invitation_message(InvitationFactory(appointment=rfa_appointment)))
    Patient.objects.filter(pk=rfa_appointment.patient_id).update(preferred_language="en")
    emails.append(invitation_message(reminder_for(rfa_appointment)))
    for _twice in (1, 2):  # the second time from what was remembered
        for ours in emails:
            theirs = EmailMultiAlternatives(
                subject=ours.subject,
                body=ours.body,
                from_email=ours.from_email,
                to=ours.to,
                headers=ours.extra_headers,
                alternatives=ours.alternatives,
                attachments=ours.attachments,
            )
            mine, django = ours.message(), theirs.message()
            for part, other in zip(multiparts(mine), multiparts(django), strict=True):
                other.set_boundary(part.get_boundary())
            django.replace_header("Date", mine["Date"])
            assert mine.as_bytes(linesep="\r\n") == django.as_bytes(linesep="\r\n")
    assert "=?utf-8?" in emails[0].message()["Subject"]
    emails[0].subject = "Påmindelse\nBcc: someone@example.org"
    with pytest.raises(BadHeaderError):
        emails[0].message()


def test_it_writes_one_moment_in_each_language_and_time_zone(db):
    """The words of a day are remembered per language and wall-clock time."""
    import zoneinfo

    from django.utils import translation

    from followup.emails import _day

    moment = datetime.datetime(2026, 11, 30, 8, 0, tzinfo=datetime.UTC)
    written = {}
    for language in ("da", "en"):
        for zone in ("Europe/Copenhagen", "America/New_York"):
            with translation.override(language), timezone.override(zoneinfo.ZoneInfo(zone)):
                written[language, zone] = _day(moment)
    assert written["da", "Europe/Copenhagen"] == {
        "weekday": "mandag",
        "date": "30. november 2026",
        "time": "09:00",
    }
    assert written["en", "Europe/Copenhagen"] == {
        "weekday": "Monday",
        "date": "30 November 2026",
        "time": "09:00",
    }
    assert written["en", "America/New_York"]["time"] == "03:00"
    assert written["da", "America/New_York"]["time"] == "03:00"


def test_it_writes_the_survey_email_in_danish_and_english(calendar, patient, other_patient):
    for days, who, subject, text in (
        (14, patient, "Hvordan har du det?", "Vi vil gerne vide, hvordan du har haft det"),
        (15, other_patient, "How are you doing?", "We would like to know how you have been"),
    ):
        appointment = AppointmentFactory(
            calendar=calendar, patient=who, starts_at=timezone.now() - days * DAY
        )
        invitation = InvitationFactory(appointment=appointment)
        message = invitation_message(invitation)
        assert message.subject.startswith(subject)
        assert text in message.body
        assert settings.FOLLOWUP_EMERGENCY_PHONE in message.body
        assert "Test Spine Centre" in message.body
        assert "epidural" not in message.body.lower()


def test_it_says_so_when_it_reminds_about_a_survey(calendar, other_patient):
    appointment = AppointmentFactory(
        calendar=calendar, patient=other_patient, starts_at=timezone.now() - 14 * DAY
    )
    invitation = InvitationFactory(appointment=appointment, sends=1, status=S.SENT)
    message = invitation_message(invitation)
    assert message.subject.startswith("Reminder: how are you doing?")
    assert "We have not heard from you yet." in message.body
    assert message.extra_headers["Message-ID"].endswith(f"{invitation.pk}-send-2@127.0.0.1>")


def test_it_keeps_token_purposes_apart(db):
    token = make_token(purpose="survey", invitation_id=42)
    assert read_token(token, purpose="survey") == 42
    with pytest.raises(TokenInvalid):
        read_token(token, purpose="unsubscribe")
    with pytest.raises(TokenInvalid):
        read_token(token[:-2] + "xx", purpose="survey")
    with pytest.raises(ValueError):
        make_token(purpose="anything", invitation_id=42)
    assert link("survey", 42).startswith(f"{settings.SITE_URL}/s/")


def test_it_expires_tokens_after_the_configured_days(settings):
    settings.FOLLOWUP_LINK_MAX_AGE_DAYS = 1
    two_days_ago = time.time() - 2 * 86400
    with mock.patch("django.core.signing.time.time", return_value=two_days_ago):
        token = make_token(purpose="survey", invitation_id=42)
    with pytest.raises(TokenExpired):
        read_token(token, purpose="survey")
    settings.FOLLOWUP_LINK_MAX_AGE_DAYS = 3
    assert read_token(token, purpose="survey") == 42


def test_it_unsubscribes_a_patient_once_and_records_it(calendar, patient):
    appointment = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=timezone.now() - 14 * DAY
    )
    survey = InvitationFactory(
        appointment=appointment, status=S.SENT, next_reminder_at=timezone.now() + DAY
    )
    assert patient_unsubscribe(patient=patient) is True
    assert patient_unsubscribe(patient=patient) is False
    patient.refresh_from_db()
    assert patient.email_consent is False
    (event,) = AuditEvent.objects.filter(patient=patient)
    assert (event.user, event.action) == (None, "change")
    assert "unsubscribe" in event.detail
    survey.refresh_from_db()
    assert survey.next_reminder_at is None


def wording(instrument="odi", language="da", **section):
    base = {
        "id": "pain_intensity",
        "title": "Smerteintensitet",
        "options": [f"S{i}" for i in range(6)],
    }
    return [{"instrument": instrument, "language": language, "sections": [{**base, **section}]}]


def test_it_loads_licensed_wording_from_a_file(db, tmp_path):
    path = tmp_path / "odi.json"
    path.write_text(json.dumps(wording()), encoding="utf-8")
    call_command("load_instrument_wording", str(path))
    call_command("load_instrument_wording", str(path))  # a second load updates
    row = InstrumentWording.objects.get()
    assert (row.instrument, row.section, row.language) == ("odi", "pain_intensity", "da")
    assert row.options == ["S0", "S1", "S2", "S3", "S4", "S5"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (wording(instrument="sf36"), "instrument must be one of"),
        (wording(language="de"), "language must be one of"),
        (wording(id="reading"), "unknown section id"),
        (wording(options=["a", "b"]), "six texts"),
        (wording(title=""), "non-empty"),
    ],
)
def test_it_refuses_a_wording_file_with_a_clear_message(db, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        call_command("load_instrument_wording", str(path))
    assert not InstrumentWording.objects.exists()


def test_it_refuses_a_missing_or_broken_file(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("load_instrument_wording", str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("load_instrument_wording", str(broken))

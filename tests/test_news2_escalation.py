"""A round in a NEWS2 escalation band (RCP 2017: aggregate 5 or more, or any single parameter
scoring 3) reaches the procedure's physician: one clinical alert, on their start page and
"Physician's day", acknowledged with a note, and emailed to on-call when nobody did."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.models import AuditEvent, StaffProfile
from clinic.nursing.services import round_amend
from clinic.roles import Role
from followup.dispatch import dispatch_tick, oncall_notify
from followup.models import Alert
from followup.services import AlertNotForThisRole, alert_acknowledge
from tests.factories import SiteFactory, StaffFactory, take_round

# Respiration 25 (3) + SpO2 94 (1) + pulse 95 (1): NEWS2 5, medium.
MEDIUM = {"respiration_rate": 25, "spo2": 94, "pulse": 95}
# Respiration 22 (2) + SpO2 93 (2): NEWS2 4 with no parameter at 3, low.
FOUR = {"respiration_rate": 22, "spo2": 93}
# Responds to voice only: one parameter at 3, NEWS2 3, low-medium.
VOICE = {"consciousness": "V"}
# NEWS2 15, as in the issue: five parameters at 3, on air, temperature normal.
WORST = {
    "respiration_rate": 30,
    "spo2": 88,
    "systolic_bp": 85,
    "diastolic_bp": 50,
    "pulse": 140,
    "consciousness": "U",
}


def clinical_alerts():
    return Alert.objects.filter(kind=Alert.Kind.NEWS2)


def test_it_raises_one_alert_for_the_physician_at_news2_5(recovering, nurse, physician):
    round_ = take_round(recovering, nurse, **MEDIUM)
    assert round_.news2_total == 5
    (alert,) = clinical_alerts()
    assert alert.appointment == recovering and alert.patient == recovering.patient
    assert alert.appointment.physician == physician
    assert alert.severity == "medium" and alert.source_id == round_.pk
    assert alert.detail.startswith("NEWS2 5 (medium)")
    assert alert.response is None and alert.acknowledged_at is None


def test_it_raises_an_alert_for_a_single_parameter_scoring_3(recovering, nurse):
    take_round(recovering, nurse, **VOICE)
    (alert,) = clinical_alerts()
    assert alert.severity == "low-medium" and "consciousness 3" in alert.detail


def test_it_raises_no_alert_at_news2_4_without_a_3(recovering, nurse):
    assert take_round(recovering, nurse, **FOUR).news2_total == 4
    assert not clinical_alerts().exists()


def test_it_keeps_one_open_alert_for_later_high_rounds(recovering, nurse):
    take_round(recovering, nurse, **MEDIUM)
    worst = take_round(recovering, nurse, **WORST)
    (alert,) = clinical_alerts()
    assert alert.detail.startswith(f"NEWS2 {worst.news2_total} (high)")
    assert alert.severity == "high" and alert.source_id == worst.pk
    assert alert.occurrences == 2


def test_it_raises_a_new_alert_for_a_high_round_after_the_acknowledgement(
    recovering, nurse, physician
):
    take_round(recovering, nurse, **MEDIUM)
    alert_acknowledge(alert=clinical_alerts().get(), user=physician, note="Seen; fluids.")
    take_round(recovering, nurse)  # calm: nothing new
    assert clinical_alerts().count() == 1
    take_round(recovering, nurse, **WORST)
    assert clinical_alerts().count() == 2
    assert clinical_alerts().filter(acknowledged_at__isnull=True).count() == 1


def test_it_raises_an_alert_when_an_amendment_moves_a_round_into_the_band(recovering, nurse):
    round_ = take_round(recovering, nurse)
    assert not clinical_alerts().exists()
    round_amend(actor=nurse, round_=round_, field="consciousness", value="P", reason="Mis-typed A.")
    assert clinical_alerts().get().source_id == round_.pk


def test_it_shows_the_alert_on_the_physicians_home_and_day(
    client, recovering, nurse, physician, manager
):
    take_round(recovering, nurse, **WORST)
    alert = clinical_alerts().get()
    client.force_login(physician)
    home = client.get(reverse("home")).content.decode()
    assert "NEWS2 15 (high)" in home and "Karen Jensen" in home
    assert reverse("alert_acknowledge", args=[alert.pk]) in home
    day = client.get(reverse("physician_day")).content.decode()
    assert "NEWS2 15 (high)" in day
    # Another physician's home shows only their own patients' alerts.
    client.force_login(StaffFactory(username="dr-other", role=Role.PHYSICIAN))
    assert "NEWS2 15" not in client.get(reverse("home")).content.decode()
    # The manager sees every open clinical alert.
    client.force_login(manager)
    assert "NEWS2 15 (high)" in client.get(reverse("home")).content.decode()


def test_it_keeps_clinical_alerts_off_the_follow_up_alert_list(
    client, recovering, nurse, physician
):
    take_round(recovering, nurse, **WORST)
    client.force_login(nurse)
    assert "NEWS2 15" not in client.get(reverse("alert_list")).content.decode()


def test_the_physician_acknowledges_with_a_note(client, recovering, nurse, physician):
    take_round(recovering, nurse, **WORST)
    alert = clinical_alerts().get()
    client.force_login(physician)
    url = reverse("alert_acknowledge", args=[alert.pk])
    page = client.get(url).content.decode()
    assert "NEWS2 15 (high)" in page
    assert client.post(url, {"note": ""}).status_code == 200  # the note is required
    response = client.post(url, {"note": "At the bedside; transfer to ED.", "next": "/"})
    assert response.status_code == 302 and response.url == "/"
    alert.refresh_from_db()
    assert alert.acknowledged_by == physician and alert.acknowledged_at is not None
    assert alert.acknowledgement_note == "At the bedside; transfer to ED."
    assert AuditEvent.objects.filter(
        user=physician, detail__contains="alert acknowledged", patient=recovering.patient
    ).exists()
    assert "NEWS2 15 (high)" not in client.get(reverse("home")).content.decode()


def test_only_a_physician_acknowledges_a_news2_alert(recovering, nurse, manager):
    take_round(recovering, nurse, **WORST)
    alert = clinical_alerts().get()
    for user in (nurse, manager):
        with pytest.raises(AlertNotForThisRole):
            alert_acknowledge(alert=alert, user=user, note="Seen.")
    assert clinical_alerts().get().acknowledged_at is None


def test_it_emails_on_call_when_nobody_acknowledged_in_time(
    recovering, nurse, settings, smtp_server
):
    settings.CLINICAL_ALERT_ESCALATE_MINUTES = 15
    take_round(recovering, nurse, **WORST)
    alert = clinical_alerts().get()
    now = alert.created_at
    # The physician sees it first; on-call hears nothing before the configured minutes.
    assert dispatch_tick(now=now + datetime.timedelta(minutes=14))["alerts"] == 0
    assert oncall_notify(now=now + datetime.timedelta(minutes=14)) == 0
    later = now + datetime.timedelta(minutes=16)
    assert dispatch_tick(now=later)["alerts"] == 1
    assert oncall_notify(now=later) == 1
    (message,) = smtp_server.messages
    subject = message["Subject"]
    assert subject == f"UNACKNOWLEDGED clinical alert #{alert.pk}"
    body = message.get_payload(decode=True).decode()
    assert reverse("alert_acknowledge", args=[alert.pk]) in body
    for identifying in ("Karen", "Jensen", "MRN-0001"):
        assert identifying not in subject and identifying not in body
    alert.refresh_from_db()
    assert alert.escalated_at == later
    # Once: not again at the next ticks.
    assert oncall_notify(now=later + datetime.timedelta(hours=2)) == 0
    assert len(smtp_server.messages) == 1


def test_it_does_not_email_on_call_about_an_acknowledged_alert(
    recovering, nurse, physician, settings, smtp_server
):
    settings.CLINICAL_ALERT_ESCALATE_MINUTES = 15
    take_round(recovering, nurse, **WORST)
    alert = clinical_alerts().get()
    alert_acknowledge(alert=alert, user=physician, note="At the bedside.")
    later = timezone.now() + datetime.timedelta(hours=1)
    assert dispatch_tick(now=later)["alerts"] == 0
    assert oncall_notify(now=later) == 0
    assert smtp_server.messages == []


def test_the_api_refuses_a_nurses_acknowledgement_and_takes_the_physicians(
    recovering, nurse, physician
):
    take_round(recovering, nurse, **WORST)
    alert = clinical_alerts().get()
    api = APIClient()
    url = reverse("followup-alert-acknowledge", args=[alert.pk])
    api.force_authenticate(nurse)
    refused = api.post(url, {"note": "Seen."}, format="json")
    assert refused.status_code == 409
    assert refused.json()["reasons"][0]["code"] == "alert_physician_only"
    api.force_authenticate(physician)
    row = api.post(url, {"note": "At the bedside."}, format="json").json()
    assert row["kind"] == "news2" and row["appointment"] == recovering.pk
    assert row["severity"] == "high" and row["acknowledged_by"]


def test_the_physicians_day_keeps_the_acknowledged_alert_with_its_note(
    client, recovering, nurse, physician
):
    take_round(recovering, nurse, **WORST)
    alert_acknowledge(alert=clinical_alerts().get(), user=physician, note="Transferred to ED.")
    client.force_login(physician)
    day = client.get(reverse("physician_day")).content.decode()
    assert "Transferred to ED." in day and "Acknowledged" in day
    assert "NEWS2 15 (high)" not in client.get(reverse("home")).content.decode()


def test_staff_of_another_site_do_not_see_the_alert(client, recovering, nurse, manager):
    take_round(recovering, nurse, **WORST)
    StaffProfile.objects.get_or_create(user=manager)[0].sites.set([SiteFactory(name="Elsewhere")])
    client.force_login(manager)
    assert "NEWS2 15" not in client.get(reverse("home")).content.decode()
    api = APIClient()
    api.force_authenticate(manager)
    rows = api.get(reverse("followup-alert-list"), {"kind": "news2"}).json()["results"]
    assert rows == []

"""Issue 11: the patient page shows a patient's latest follow-up rows and scores, whatever
the length of their history; the patient's follow-up page lists every one, to the same
people, read like the patient page (the sites' record, audited)."""

import datetime
import re
from dataclasses import replace
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from clinic.models import AuditEvent, StaffProfile
from clinic.nursing.templatetags.nursing_patient import perioperative_rows
from followup.blocks import block_result
from followup.models import Invitation
from followup.selectors_patient import (
    RECENT_ROWS,
    FollowupRow,
    patient_followup_rows,
    recent_patient_followup_rows,
)
from followup.selectors_story import Point, Procedure, patient_story
from followup.templatetags.followup_patient import followup_rows, procedure_rows, score_rows
from scheduling.selectors import patient_appointments
from scheduling.templatetags.scheduling_booking import status_badge
from scheduling.templatetags.scheduling_patient import appointment_rows
from tests.browser import DESKTOP
from tests.factories import (
    PatientFactory,
    ResponseFactory,
    SentSurveyFactory,
    TodaysAppointmentFactory,
    appointment_maker,
)
from tests.test_patient_story import serious_violations

ALL = RECENT_ROWS + 2


@pytest.fixture
def appointment(book):
    return book(9, 0)


@pytest.fixture
def surveys(appointment):
    """ALL answered surveys a day apart, oldest first, their ODI 20.0, 21.0, ... in order
    (and none of the invitations booking made)."""
    Invitation.objects.filter(patient=appointment.patient).delete()
    start = timezone.now() - datetime.timedelta(days=40)
    return [
        ResponseFactory(
            invitation=SentSurveyFactory(
                appointment=appointment, due_at=start + datetime.timedelta(days=day)
            ),
            submitted_at=start + datetime.timedelta(days=day, hours=1),
            odi_percent=20 + day,
        )
        for day in range(ALL)
    ]


def odi_cells(html: str) -> list[str]:
    """The follow-up table's ODI cells ("ODI 20.0"), in page order."""
    return re.findall(r"<td>(ODI \d+\.\d)</td>", html)


def scores_listed(html: str) -> int:
    table = html[html.index('id="story-scores"') :]
    return table[: table.index("</table>")].count("<tr><td>")


def test_it_reads_the_latest_rows_oldest_first_and_the_total(patient, surveys):
    rows, total = recent_patient_followup_rows(patient=patient)
    assert total == ALL
    assert [row.odi_percent for row in rows] == [20 + day for day in range(2, ALL)]
    every = patient_followup_rows(patient=patient)
    assert [row.odi_percent for row in every] == [20 + day for day in range(ALL)]


def test_it_gives_each_row_its_times_at_the_appointments_site(patient, surveys, appointment):
    row = patient_followup_rows(patient=patient)[0]
    invitation = surveys[0].invitation
    invitation.refresh_from_db()
    local = timezone.localtime(invitation.due_at, appointment.site.zone)
    assert row.due == local.strftime("%Y-%m-%d %H:%M")
    assert row.opened == ""
    assert row.survey == "Follow-up survey"
    assert row.status == "Answered"
    assert row.response_id == surveys[0].pk


def test_it_shows_the_latest_rows_on_the_patient_page_and_links_to_all(
    client, nurse, patient, surveys
):
    client.force_login(nurse)
    page = client.get(patient.get_absolute_url()).content.decode()
    assert odi_cells(page) == [f"ODI {20 + day}.0" for day in range(2, ALL)]
    full = reverse("patient_followup", args=[patient.pk])
    assert f'<a href="{full}">All follow-up ({ALL})</a>' in page
    assert f"The latest {RECENT_ROWS} of {ALL}." in page
    assert scores_listed(page) == RECENT_ROWS
    assert f"the latest {RECENT_ROWS} of {ALL}</caption>" in page
    assert f'<a href="{full}#story-scores">All scores ({ALL})</a>' in page


def test_it_lists_every_row_and_score_on_the_follow_up_page(client, nurse, patient, surveys):
    client.force_login(nurse)
    page = client.get(reverse("patient_followup", args=[patient.pk])).content.decode()
    assert odi_cells(page) == [f"ODI {20 + day}.0" for day in range(ALL)]
    assert scores_listed(page) == ALL
    assert reverse("response_detail", args=[surveys[0].pk]) in page
    assert patient.get_absolute_url() in page


def test_it_needs_no_link_when_every_row_is_on_the_page(client, nurse, patient, surveys):
    for response in surveys[:2]:
        invitation = response.invitation
        response.delete()
        invitation.delete()
    client.force_login(nurse)
    page = client.get(patient.get_absolute_url()).content.decode()
    assert len(odi_cells(page)) == RECENT_ROWS
    assert "All follow-up (" not in page and "All scores (" not in page
    assert scores_listed(page) == RECENT_ROWS


def test_it_audits_the_follow_up_page_as_a_read_of_the_record(client, nurse, patient, surveys):
    client.force_login(nurse)
    client.get(reverse("patient_followup", args=[patient.pk]))
    event = AuditEvent.objects.get(user=nurse, detail="follow-up (all rows)")
    assert event.action == AuditEvent.Action.VIEW
    assert event.patient == patient


def test_it_shows_the_front_desk_when_emails_went_but_no_scores(
    client, front_desk, patient, surveys
):
    client.force_login(front_desk)
    page = client.get(reverse("patient_followup", args=[patient.pk])).content.decode()
    assert page.count("Follow-up survey") == ALL
    for clinical in ("ODI", "Pain now", "story-scores", "Alerts"):
        assert clinical not in page
    assert not AuditEvent.objects.filter(user=front_desk, action=AuditEvent.Action.VIEW).exists()


def test_it_keeps_another_sites_follow_up_to_that_site(client, nurse, calendar):
    StaffProfile.objects.get_or_create(user=nurse)[0].sites.set([calendar["site"]])
    elsewhere = TodaysAppointmentFactory(patient=PatientFactory(mrn="AWAY-1"))
    client.force_login(nurse)
    url = reverse("patient_followup", args=[elsewhere.patient.pk])
    assert client.get(url).status_code == 403


def test_it_lists_upcoming_and_the_last_fifty_past_appointments(calendar, patient):
    made = appointment_maker(
        calendar, patient, first_day=calendar["monday"] - datetime.timedelta(weeks=3)
    )
    past = made(52)
    upcoming = appointment_maker(calendar, patient)(2)
    now = min(appointment.starts_at for appointment in upcoming) - datetime.timedelta(minutes=1)
    listed = patient_appointments(patient=patient, now=now)
    assert listed["upcoming"] == upcoming
    assert listed["past"] == sorted(past, key=lambda a: a.starts_at, reverse=True)[:50]


def test_it_names_the_records_merged_into_a_patient(client, front_desk, patient):
    client.force_login(front_desk)
    assert 'id="merged-records"' not in client.get(patient.get_absolute_url()).content.decode()
    duplicate = PatientFactory(merged_into=patient, merged_at=timezone.now())
    page = client.get(patient.get_absolute_url()).content.decode()
    assert 'id="merged-records"' in page and duplicate.mrn in page
    merged = client.get(duplicate.get_absolute_url()).content.decode()
    assert (
        f'This record was merged into <a class="alert-link" href="{patient.get_absolute_url()}">'
        in merged
    )


def test_it_dates_scores_and_procedures_on_the_clinics_calendar(calendar, patient, surveys):
    story = patient_story(patient=patient)
    assert [point.day for point in story.points] == [
        timezone.localtime(response.submitted_at).date().isoformat() for response in surveys
    ]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_shows_the_follow_up_page_accessibly(
    open_page, client, live_server, settings, nurse, patient, surveys
):
    page = open_page(DESKTOP)
    client.force_login(nurse)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    page.goto(patient.get_absolute_url())
    page.get_by_role("link", name=f"All follow-up ({ALL})").click()
    expect(page.locator("#story-scores tbody tr")).to_have_count(ALL)
    assert serious_violations(page) == []


def test_it_formats_each_follow_up_row_as_the_table_shows_it(patient):
    row = FollowupRow(
        survey="6 weeks",
        procedure="Radiofrequency ablation",
        due="2026-11-02 09:00",
        status="Answered",
        reminders_sent=2,
        sent="2026-11-02 09:01",
        opened="",
        answered="2026-11-03 10:00",
        response_id=7,
        nrs_current=3,
        percent_relief=Decimal("62.25"),
        patient_rated_relief=None,
        pgic=2,
        odi_percent=None,
        ndi_percent=Decimal("18"),
        alert_count=1,
    )
    html = followup_rows([row], scores=True, patient=patient)
    assert "<td>Answered <small>(2 reminders)</small></td>" in html
    assert "<td>—</td>" in html  # not opened
    assert f'<td><a href="{reverse("response_detail", args=[7])}">3</a></td>' in html
    assert "<td>62.3 / —</td>" in html and "<td>NDI 18.0</td>" in html
    alerts = f"{reverse('alert_list')}?q={patient.mrn}&amp;state="
    assert f'<a class="badge text-bg-warning" href="{alerts}">1 alert</a>' in html
    unanswered = followup_rows([replace(row, response_id=None)], scores=True, patient=patient)
    assert '<td colspan="5">—</td>' in unanswered
    desk = followup_rows([row], scores=False, patient=patient)
    assert desk.count("<td") == 6 and "NDI" not in desk


def test_it_formats_each_procedure_and_score_row(db):
    at = timezone.now()
    block = block_result(baseline_nrs=8, diary={"30": 1}, window_minutes=360, threshold=80)
    procedure = Procedure(5, at, "Medial branch block", "Left L4-L5", block)
    html = procedure_rows([procedure, replace(procedure, side_and_level="", block=None)])
    assert f'<a href="{reverse("appointment_detail", args=[5])}">Medial branch block</a>' in html
    assert "<td>Left L4-L5</td><td>Positive block (88%)</td>" in html
    assert "<td>—</td><td>—</td></tr>" in html
    point = Point(at, "Baseline", 7, None, Decimal("44.25"), None)
    day = timezone.localtime(at).date().isoformat()
    assert score_rows([point]) == (
        f"<tr><td>{day}</td><td>Baseline</td><td>7</td><td>—</td><td>44.3</td><td>—</td></tr>\n"
    )


def test_it_formats_each_appointment_row_at_its_site(calendar, patient):
    appointment = appointment_maker(calendar, patient)(1)[0]
    html = appointment_rows([appointment])
    local = timezone.localtime(appointment.starts_at, appointment.site.zone)
    when = local.strftime("%a %Y-%m-%d %H:%M")
    assert html.startswith(f'<tr><td><a href="{appointment.get_absolute_url()}">{when}</a></td>')
    assert f"<td>{appointment.site.name} · {appointment.room.name}</td>" in html
    assert f"<td>{status_badge(appointment)}</td></tr>" in html
    periop = perioperative_rows([appointment])
    clinic_time = timezone.localtime(appointment.starts_at).strftime("%Y-%m-%d %H:%M")
    assert periop.startswith(f"<tr><td>{clinic_time}</td>")
    assert reverse("nursing_record", args=[appointment.pk]) in periop

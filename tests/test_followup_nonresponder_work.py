"""Working off the non-responder lists: log a call, snooze, close; counters count open work
only; physicians see their own patients' rows; the coordinator's journey in a browser."""

import csv
import datetime
import io
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from clinic.models import AuditEvent, StaffProfile
from followup.models import Invitation, RescheduleRequest, WorklistAction
from followup.selectors_worklists import (
    followup_counts,
    nonresponder_rows,
    nonresponders_for,
    worklist_open_q,
)
from followup.services_worklists import WorklistRefused, worklist_close, worklist_snooze
from scheduling.models import Appointment
from tests.browser import DESKTOP, login
from tests.factories import (
    AlertFactory,
    PatientFactory,
    PhysicianFactory,
    ResponseFactory,
    SentSurveyFactory,
    TodaysAppointmentFactory,
)

ROLES = ["front_desk", "nurse", "physician", "manager", "admin", "outsider"]
WORKERS = {"front_desk", "nurse", "manager", "admin"}


def days_ago(days):
    return timezone.now() - datetime.timedelta(days=days)


@pytest.fixture
def appointment(book):
    return book(9, 0)


@pytest.fixture
def silent(appointment):
    """Sent ten days ago, both reminders out, no answer: a row to phone about."""
    return SentSurveyFactory(
        appointment=appointment, sent_at=days_ago(10), due_at=days_ago(10), reminders_sent=2
    )


@pytest.fixture
def never_emailed(appointment):
    return SentSurveyFactory(appointment=appointment, status=Invitation.Status.SKIPPED)


def open_rows(client, name="nonresponders"):
    return [row.pk for row in client.get(reverse(name)).context["table"].data]


def test_it_lets_only_the_workers_work_a_row(client, personas, silent):
    url = reverse("nonresponder_work", args=[silent.pk])
    for role in ROLES:
        client.force_login(personas[role])
        status = client.get(url).status_code
        assert status == (200 if role in WORKERS else 403), f"{role}: {status}"
    client.force_login(personas["physician"])
    assert client.post(url, {"action": "close", "close-reason": "declined"}).status_code == 403


def test_it_takes_a_called_row_off_the_open_list_and_the_count(client, front_desk, silent):
    client.force_login(front_desk)
    assert followup_counts(user=front_desk)["nonresponders"] == 1
    response = client.post(
        reverse("nonresponder_work", args=[silent.pk]),
        {"action": "call", "call-outcome": "no_answer", "call-note": "Rang twice"},
    )
    assert response.status_code == 302
    assert followup_counts(user=front_desk)["nonresponders"] == 0
    assert open_rows(client) == []
    silent.refresh_from_db()
    assert silent.worklist_snoozed_until == timezone.localdate() + datetime.timedelta(days=1)
    call = WorklistAction.objects.get(invitation=silent)
    assert (call.kind, call.outcome, call.note, call.by) == (
        "call",
        "no_answer",
        "Rang twice",
        front_desk,
    )
    assert AuditEvent.objects.filter(
        user=front_desk, action=AuditEvent.Action.CHANGE, detail__contains="call"
    ).exists()
    # The snoozed row is still found under its own filter, with its last call.
    body = client.get(reverse("nonresponders"), {"state": "snoozed"}).content.decode()
    assert "No answer" in body
    # Tomorrow it is work again.
    tomorrow = timezone.now() + datetime.timedelta(days=1)
    assert followup_counts(user=front_desk, now=tomorrow)["nonresponders"] == 1


def test_it_closes_a_row_when_the_patient_declines(client, nurse, silent):
    client.force_login(nurse)
    client.post(
        reverse("nonresponder_work", args=[silent.pk]),
        {"action": "call", "call-outcome": "declined"},
    )
    silent.refresh_from_db()
    assert silent.worklist_closed_at is not None
    assert WorklistAction.objects.get(invitation=silent, kind="close").reason == "declined"
    assert open_rows(client) == []
    closed = client.get(reverse("nonresponders"), {"state": "closed"}).context["table"].data
    assert [row.pk for row in closed] == [silent.pk]


def test_it_closes_a_row_once(front_desk, nurse, silent):
    worklist_close(invitation=silent, user=front_desk, reason="unreachable")
    stale = Invitation.objects.get(pk=silent.pk)
    Invitation.objects.filter(pk=silent.pk).update(worklist_closed_at=None)  # a race
    with pytest.raises(WorklistRefused):
        worklist_close(invitation=stale, user=nurse, reason="declined")
    assert WorklistAction.objects.filter(invitation=silent, kind="close").count() == 1


def test_it_refuses_a_second_action_on_a_closed_row(client, front_desk, silent):
    worklist_close(invitation=silent, user=front_desk, reason="not_relevant")
    with pytest.raises(WorklistRefused):
        worklist_snooze(
            invitation=silent,
            user=front_desk,
            until=timezone.localdate() + datetime.timedelta(days=2),
        )
    client.force_login(front_desk)
    response = client.post(
        reverse("nonresponder_work", args=[silent.pk]),
        {"action": "call", "call-outcome": "no_answer"},
        follow=True,
    )
    assert "nothing was changed" in response.content.decode()


def test_it_snoozes_until_a_day_and_asks_for_a_note_when_closing_for_other(
    client, front_desk, silent
):
    client.force_login(front_desk)
    url = reverse("nonresponder_work", args=[silent.pk])
    response = client.post(url, {"action": "close", "close-reason": "other"})
    assert response.status_code == 200
    assert "Say why the row is closed." in response.content.decode()
    past = timezone.localdate() - datetime.timedelta(days=1)
    client.post(url, {"action": "snooze", "snooze-until": past.isoformat()})
    silent.refresh_from_db()
    assert silent.worklist_snoozed_until is None
    later = timezone.localdate() + datetime.timedelta(days=5)
    client.post(url, {"action": "snooze", "snooze-until": later.isoformat()})
    silent.refresh_from_db()
    assert silent.worklist_snoozed_until == later


def test_it_keeps_the_rules_in_named_constraints(silent):
    for fields in (
        {"kind": "call"},
        {"kind": "snooze"},
        {"kind": "close"},
        {"kind": "close", "reason": "other"},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            WorklistAction.objects.create(invitation=silent, **fields)


def test_it_counts_not_emailed_rows_apart(client, front_desk, silent, never_emailed):
    counts = followup_counts(user=front_desk)
    assert (counts["nonresponders"], counts["not_emailed"]) == (1, 1)
    client.force_login(front_desk)
    assert open_rows(client) == [silent.pk]
    assert open_rows(client, "not_emailed") == [never_emailed.pk]
    body = client.get(reverse("home")).content.decode()
    assert "Surveys not emailed" in body


def test_it_shows_physicians_their_own_patients_rows_only(client, physician, silent, book):
    others = book(11, 0)
    Appointment.objects.filter(pk=others.pk).update(physician=PhysicianFactory(username="other"))
    SentSurveyFactory(
        appointment=others, sent_at=days_ago(10), due_at=days_ago(10), reminders_sent=2
    )
    client.force_login(physician)
    assert open_rows(client) == [silent.pk]
    assert followup_counts(user=physician)["nonresponders"] == 1
    body = client.get(reverse("nonresponders")).content.decode()
    assert "Log call" not in body  # physicians read; the coordinators phone


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_lets_a_coordinator_log_a_call_and_the_count_drops(
    open_page, front_desk, silent, patient
):
    page = open_page(DESKTOP)
    login(page, front_desk)
    page.goto(reverse("home"))
    expect(page.locator("#count-nonresponders")).to_have_text("1")
    page.get_by_role("link", name="Non-responders to phone").click()
    checked = {"list": serious_violations(page)}
    page.get_by_role(
        "link", name=re.compile(f"Log call, snooze, close.*{patient.full_name}")
    ).click()
    checked["row"] = serious_violations(page)
    page.get_by_label("Outcome").select_option("no_answer")
    page.locator("#id_call-note").fill("No answer, try tomorrow")
    page.get_by_role("button", name="Log call").click()
    expect(page.get_by_text("Call logged.")).to_be_visible()
    page.goto(reverse("home"))
    expect(page.locator("#count-nonresponders")).to_have_text("0")
    assert checked == {"list": [], "row": []}


def serious_violations(page) -> list[str]:
    # The page's own content; the shared navbar is checked by the every-page crawl.
    results = Axe().run(page, context="main")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} "
        f"{[node['target'] for node in violation['nodes']][:3]}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def test_it_counts_and_pages_the_open_rows_from_their_own_index(front_desk, silent, never_emailed):
    """The open rows are a few thousand among millions of answered invitations: the start
    page's counts read invitation_nonresponder_idx alone (an index-only scan), and a list's
    page walks it in the list's order and stops, without sorting (scans of the whole table
    switched off, as a big table would have them lose)."""
    today = timezone.localdate()
    with CaptureQueriesContext(connection) as queries:
        for not_emailed in (False, True):
            nonresponders_for(front_desk, not_emailed=not_emailed).filter(
                worklist_open_q(today)
            ).count()
            rows = nonresponder_rows(front_desk, not_emailed=not_emailed)
            list(rows.filter(worklist_open_q(today)).order_by("sent_at", "id")[:25])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        plans = []
        for query in queries:
            if not query["sql"].startswith(
                'SELECT COUNT(*) AS "__count" FROM "followup_invit'
            ) and ('FROM "followup_invitation"' not in query["sql"]):
                continue  # the user's roles, read once
            cursor.execute("EXPLAIN " + query["sql"])
            plans.append("\n".join(line for (line,) in cursor.fetchall()))
    assert len(plans) == 4
    counts, pages = plans[0::2], plans[1::2]
    for plan in counts:
        assert "Index Only Scan using invitation_nonresponder_idx" in plan, plan
    for plan in pages:
        rows = plan.split("SubPlan")[0]  # a row's last call is sorted among its own few
        assert "invitation_nonresponder_idx" in rows and "Sort" not in rows, plan


def test_it_exports_a_row_with_its_survey_procedure_times_and_last_call(
    client, front_desk, silent, appointment
):
    client.force_login(front_desk)
    client.post(
        reverse("nonresponder_work", args=[silent.pk]),
        {"action": "call", "call-outcome": "no_answer", "call-note": ""},
    )
    response = client.get(reverse("nonresponders"), {"state": "snoozed", "_export": "csv"})
    assert response.status_code == 200
    header, row, *rest = list(csv.reader(io.StringIO(response.content.decode())))
    assert rest == []
    cells = dict(zip(header, row, strict=True))
    assert cells["Procedure"] == appointment.procedure_type.name
    assert cells["Survey"] == (silent.step.name if silent.step else silent.get_kind_display())
    assert cells["Sent"] == silent.sent_at.isoformat()
    assert cells["Reminders"] == "2"
    assert cells["Last call"].startswith("No answer (")
    assert cells["Work"].startswith("snoozed until ")


def test_it_stops_counting_a_long_backlog_on_the_start_page(
    client, front_desk, appointment, monkeypatch
):
    """A clinic that has not worked the list for months has tens of thousands of open rows;
    counting them all on every start page cost more than the rest of the page."""
    monkeypatch.setattr("followup.selectors_worklists.START_PAGE_COUNT_CAP", 2)
    for _ in range(3):
        SentSurveyFactory(
            appointment=appointment, sent_at=days_ago(10), due_at=days_ago(10), reminders_sent=2
        )
    counts = followup_counts(user=front_desk)
    assert counts["nonresponders"] == 3 and str(counts["nonresponders"]) == "2+"
    assert counts["not_emailed"] == 0 and str(counts["not_emailed"]) == "0"
    client.force_login(front_desk)
    body = client.get(reverse("home")).content.decode()
    assert '<strong id="count-nonresponders">2+</strong>' in body


def test_it_pages_the_lists_without_counting_every_row(client, front_desk, silent):
    client.force_login(front_desk)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("nonresponders")).status_code == 200
    counts = [
        q["sql"] for q in queries if "COUNT(*)" in q["sql"] and "followup_invitation" in q["sql"]
    ]
    assert counts == []


@pytest.mark.parametrize("role", ["nurse", "front_desk", "manager"])
def test_it_counts_the_users_own_sites_on_the_start_page(client, personas, calendar, silent, role):
    """Staff of one site read every site's numbers above lists that showed only theirs."""
    elsewhere = TodaysAppointmentFactory(patient=PatientFactory(mrn="AWAY-1"))
    SentSurveyFactory(
        appointment=elsewhere, sent_at=days_ago(10), due_at=days_ago(10), reminders_sent=2
    )
    SentSurveyFactory(appointment=elsewhere, status=Invitation.Status.SKIPPED)
    SentSurveyFactory(appointment=elsewhere, status=Invitation.Status.FAILED)
    RescheduleRequest.objects.create(appointment=elsewhere)
    AlertFactory(response=ResponseFactory(invitation=SentSurveyFactory(appointment=elsewhere)))
    user = personas[role]
    mine = {
        "open_alerts": 0,
        "surveys_due": 1,
        "reschedule_requests": 0,
        "failed_sends": 0,
        "nonresponders": 1,
        "not_emailed": 0,
    }
    everywhere = followup_counts(user=user)
    assert everywhere and all(everywhere[key] == mine[key] + 1 for key in everywhere)
    StaffProfile.objects.get_or_create(user=user)[0].sites.set([calendar["site"]])
    user = type(user).objects.get(pk=user.pk)
    counts = followup_counts(user=user)
    assert counts == {key: mine[key] for key in everywhere}
    client.force_login(user)
    assert "unacknowledged alert" not in client.get(reverse("home")).content.decode()

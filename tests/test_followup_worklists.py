"""Staff worklists of follow-up: permissions, contents, actions, exports and query counts."""

import csv
import datetime
import io
import itertools

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone

from clinic.models import AuditEvent, Site
from followup.models import Alert, CarePlanStep, Invitation, RescheduleRequest
from followup.services_worklists import worklist_call_log
from scheduling.models import Appointment
from tests.factories import AlertFactory, ResponseFactory, SentSurveyFactory

ROLES = ["front_desk", "nurse", "physician", "manager", "admin", "outsider"]
CLINICAL = {"nurse", "physician", "manager", "admin"}
EMAIL_LOG_READERS = {"front_desk", "nurse", "manager", "admin"}
RESCHEDULERS = {"front_desk", "manager", "admin"}
# Physicians read their own patients' non-responder rows; the others also work them.
WORKLIST_READERS = EMAIL_LOG_READERS | {"physician"}
NOW = timezone.now


@pytest.fixture
def appointment(book):
    """Karen's transforaminal ESI, booked for next Monday at 09:00."""
    return book(9, 0)


def days_ago(days):
    return NOW() - datetime.timedelta(days=days)


@pytest.fixture
def answered(appointment):
    """A response with scores and an open red-flag alert."""
    response = ResponseFactory(invitation=SentSurveyFactory(appointment=appointment))
    AlertFactory(response=response)
    return response


@pytest.fixture
def failed(appointment):
    return SentSurveyFactory(
        appointment=appointment,
        status=Invitation.Status.FAILED,
        last_error="SMTPRecipientsRefused: 550",
    )


@pytest.fixture
def reschedule_request(appointment):
    return RescheduleRequest.objects.create(appointment=appointment, message="Fridays please")


def page_urls(answered, failed):
    alert = answered.alerts.get()
    return {
        "followup_worklist": (reverse("followup_worklist"), CLINICAL | {"front_desk"}),
        "response_list": (reverse("response_list"), CLINICAL),
        "response_detail": (reverse("response_detail", args=[answered.pk]), CLINICAL),
        "patient_followup": (
            reverse("patient_followup", args=[answered.patient.pk]),
            CLINICAL | {"front_desk"},
        ),
        "alert_list": (reverse("alert_list"), CLINICAL),
        "alert_acknowledge": (reverse("alert_acknowledge", args=[alert.pk]), CLINICAL),
        "reschedule_requests": (reverse("reschedule_requests"), RESCHEDULERS),
        "failed_sends": (reverse("failed_sends"), EMAIL_LOG_READERS),
        "nonresponders": (reverse("nonresponders"), WORKLIST_READERS),
        "not_emailed": (reverse("not_emailed"), WORKLIST_READERS),
    }


def test_it_allows_each_role_only_its_worklists(client, personas, answered, failed):
    for name, (url, allowed) in page_urls(answered, failed).items():
        client.logout()
        assert client.get(url).status_code == 302, f"anonymous on {name}"
        for role in ROLES:
            client.force_login(personas[role])
            status = client.get(url).status_code
            assert status == (200 if role in allowed else 403), f"{role} on {name}: {status}"


def test_it_never_shows_scores_or_red_flags_to_the_front_desk(
    client, front_desk, nurse, answered, patient
):
    client.force_login(front_desk)
    for url in (
        reverse("followup_worklist"),
        reverse("nonresponders"),
        reverse("failed_sends"),
        patient.get_absolute_url(),
    ):
        body = client.get(url).content.decode()
        for clinical in ("ODI", "PGIC", "Pain now", "Fever or chills", "Red flag", "Alerts"):
            assert clinical not in body, f"{clinical!r} shown to the front desk on {url}"
    body = client.get(patient.get_absolute_url()).content.decode()
    assert "Follow-up" in body  # the timeline itself (sent, opened, answered) is shown
    client.force_login(nurse)
    body = client.get(patient.get_absolute_url()).content.decode()
    assert "ODI 34.0" in body
    assert "1 alert" in body


def test_it_lists_surveys_due_and_overdue(client, nurse, appointment):
    due = SentSurveyFactory(
        appointment=appointment, status=Invitation.Status.SCHEDULED, sent_at=None
    )
    awaiting = SentSurveyFactory(
        appointment=appointment, next_reminder_at=NOW() + datetime.timedelta(days=1)
    )
    overdue = SentSurveyFactory(
        appointment=appointment, sent_at=days_ago(10), due_at=days_ago(10), reminders_sent=2
    )
    SentSurveyFactory(
        appointment=appointment, due_at=NOW() + datetime.timedelta(days=3), sent_at=None
    )
    ResponseFactory(invitation=SentSurveyFactory(appointment=appointment))
    client.force_login(nurse)

    def rows(**params):
        return list(client.get(reverse("followup_worklist"), params).context["table"].data)

    assert {row.pk for row in rows()} == {due.pk, awaiting.pk, overdue.pk}
    assert [row.pk for row in rows(state="overdue")] == [overdue.pk]
    assert [row.pk for row in rows(state="awaiting")] == [awaiting.pk]
    assert [row.pk for row in rows(state="not_sent")] == [due.pk]
    assert "Overdue" in client.get(reverse("followup_worklist")).content.decode()


def test_it_shows_each_survey_with_its_step_procedure_and_site_time(client, nurse, appointment):
    Site.objects.filter(pk=appointment.site_id).update(time_zone="America/New_York")
    step = CarePlanStep.objects.filter(plan__procedure_type=appointment.procedure_type).first()
    due = datetime.datetime(2026, 1, 5, 14, 30, tzinfo=datetime.UTC)
    SentSurveyFactory(appointment=appointment, step=step, due_at=due, sent_at=due)
    # Booking made the baseline survey; it has no step.
    appointment.invitations.filter(kind=Invitation.Kind.BASELINE).update(
        status=Invitation.Status.SENT, due_at=due, sent_at=due
    )
    client.force_login(nurse)
    body = client.get(reverse("followup_worklist")).content.decode()
    procedure = appointment.procedure_type.name
    # 14:30 UTC is 09:30 in New York, the site's zone.
    assert f"<td>{procedure}</td><td>{step.name}</td><td>2026-01-05 09:30</td>" in body
    assert f"<td>{procedure}</td><td>Baseline survey</td><td>2026-01-05 09:30</td>" in body
    export = client.get(reverse("followup_worklist"), {"_export": "csv"}).content.decode()
    rows = {tuple(row[2:5]) for row in csv.reader(io.StringIO(export))}
    assert (procedure, step.name, "2026-01-05T14:30:00+00:00") in rows
    assert (procedure, "Baseline survey", "2026-01-05T14:30:00+00:00") in rows


def test_it_lists_responses_with_their_survey_procedure_and_answer_time(
    client, physician, appointment
):
    step = CarePlanStep.objects.filter(plan__procedure_type=appointment.procedure_type).first()
    answered_at = NOW().replace(microsecond=0)
    stepped = ResponseFactory(
        invitation=SentSurveyFactory(appointment=appointment, step=step),
        submitted_at=answered_at,
    )
    ResponseFactory(invitation=appointment.invitations.get(kind=Invitation.Kind.BASELINE))
    client.force_login(physician)
    body = client.get(reverse("response_list")).content.decode()
    shown = f"{timezone.localtime(answered_at):%Y-%m-%d %H:%M}"
    url = reverse("response_detail", args=[stepped.pk])
    assert f'<td><a href="{url}">{shown}</a></td>' in body
    procedure = appointment.procedure_type.name
    assert f"<td>{procedure}</td><td>{step.name}</td>" in body
    assert f"<td>{procedure}</td><td>Baseline survey</td>" in body
    export = client.get(reverse("response_list"), {"_export": "csv"}).content.decode()
    rows = {(row[0], *row[2:4]) for row in csv.reader(io.StringIO(export))}
    assert (answered_at.isoformat(sep=" "), procedure, step.name) in rows


def test_it_counts_the_surveys_due_without_joining_their_appointments(client, nurse, appointment):
    SentSurveyFactory(appointment=appointment)
    client.force_login(nurse)
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("followup_worklist"))
    (count,) = [
        q["sql"] for q in queries if "COUNT(*)" in q["sql"] and "followup_invitation" in q["sql"]
    ]
    assert "JOIN" not in count


def test_it_lists_nonresponders_with_their_phone(client, front_desk, appointment, patient):
    silent = SentSurveyFactory(
        appointment=appointment, sent_at=days_ago(10), due_at=days_ago(10), reminders_sent=2
    )
    closed = SentSurveyFactory(
        appointment=appointment, status=Invitation.Status.EXPIRED, sent_at=days_ago(20)
    )
    not_emailed = SentSurveyFactory(
        appointment=appointment, status=Invitation.Status.SKIPPED, sent_at=None
    )
    SentSurveyFactory(appointment=appointment, next_reminder_at=NOW() + datetime.timedelta(days=2))
    # The last reminder went out yesterday: the patient still has time to answer.
    SentSurveyFactory(appointment=appointment, sent_at=days_ago(7), reminders_sent=2)
    client.force_login(front_desk)
    response = client.get(reverse("nonresponders"))
    assert {row.pk for row in response.context["table"].data} == {silent.pk, closed.pk}
    # Never emailed: a list of its own, not mixed with those who ignored the emails.
    listed = client.get(reverse("not_emailed")).context["table"].data
    assert [row.pk for row in listed] == [not_emailed.pk]
    assert patient.phone in response.content.decode()


def test_it_lists_responses_with_scores(client, physician, answered):
    client.force_login(physician)
    body = client.get(reverse("response_list")).content.decode()
    assert "Karen" in body
    assert "34.0" in body  # ODI %
    assert "25.0" in body  # relief % from NRS
    assert "2 – Much improved" in body


def test_it_lists_the_last_30_days_of_responses_unless_a_date_is_given(client, physician, answered):
    old = ResponseFactory(
        invitation=SentSurveyFactory(appointment=answered.invitation.appointment),
        submitted_at=days_ago(45),
    )
    client.force_login(physician)

    def listed(**params):
        response = client.get(reverse("response_list"), params)
        return {row.record.pk for row in response.context["table"].paginated_rows}

    assert listed() == {answered.pk}
    assert listed(answered_from="", answered_to="") == {answered.pk}
    since = (timezone.localdate() - datetime.timedelta(days=60)).isoformat()
    assert listed(answered_from=since) == {answered.pk, old.pk}
    until = (timezone.localdate() - datetime.timedelta(days=40)).isoformat()
    assert listed(answered_to=until) == {old.pk}


def test_it_pages_the_responses_without_counting_them(client, physician, appointment):
    for _ in range(26):
        ResponseFactory(invitation=SentSurveyFactory(appointment=appointment))
    client.force_login(physician)
    with CaptureQueriesContext(connection) as queries:
        first = client.get(reverse("response_list"))
    assert len(first.context["table"].paginated_rows) == 25
    assert "?page=2" in first.content.decode()
    assert not [q for q in queries if "COUNT(*)" in q["sql"] and "followup_response" in q["sql"]]
    second = client.get(reverse("response_list"), {"page": 2})
    assert len(second.context["table"].paginated_rows) == 1


def test_it_counts_the_open_alerts_of_each_response(answered):
    from followup.selectors_worklists import responses_with_scores

    AlertFactory(
        response=answered,
        kind=Alert.Kind.WORSE_PAIN,
        acknowledged_at=NOW(),
        acknowledgement_note="Phoned.",
    )
    quiet = ResponseFactory(
        invitation=SentSurveyFactory(appointment=answered.invitation.appointment)
    )
    counts = {r.pk: r.open_alert_count for r in responses_with_scores()}
    assert counts == {answered.pk: 1, quiet.pk: 0}
    assert [r.pk for r in responses_with_scores().filter(open_alert_count__gt=0)] == [answered.pk]


def test_it_shows_one_response_with_its_answers_and_audits_the_reading(client, nurse, answered):
    client.force_login(nurse)
    response = client.get(reverse("response_detail", args=[answered.pk]))
    assert response.status_code == 200
    assert "Pain now (0-10)" in response.content.decode()
    assert AuditEvent.objects.filter(
        user=nurse, action=AuditEvent.Action.VIEW, object_id=str(answered.pk)
    ).exists()


def test_it_lists_open_alerts_by_default(client, nurse, answered):
    done = AlertFactory(
        response=ResponseFactory(
            invitation=SentSurveyFactory(appointment=answered.invitation.appointment)
        ),
        acknowledged_by=nurse,
        acknowledged_at=NOW(),
        acknowledgement_note="Phoned",
    )
    client.force_login(nurse)
    rows = client.get(reverse("alert_list")).context["table"].data
    assert [alert.pk for alert in rows] == [answered.alerts.get().pk]
    everything = client.get(reverse("alert_list"), {"state": ""}).context["table"].data
    assert done.pk in {alert.pk for alert in everything}


def test_it_acknowledges_an_alert_with_the_nurses_name_and_note(client, nurse, answered):
    alert = answered.alerts.get()
    url = reverse("alert_acknowledge", args=[alert.pk])
    client.force_login(nurse)
    refused = client.post(url, {"note": "   "})
    assert refused.status_code == 200
    assert "Write what was done" in refused.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_at is None

    response = client.post(url, {"note": "Phoned; advised the emergency department."})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse
    assert alert.acknowledgement_note == "Phoned; advised the emergency department."
    assert AuditEvent.objects.filter(
        user=nurse, action=AuditEvent.Action.CHANGE, object_id=str(alert.pk)
    ).exists()


def test_it_keeps_the_first_acknowledgement(client, nurse, physician, answered):
    alert = answered.alerts.get()
    url = reverse("alert_acknowledge", args=[alert.pk])
    client.force_login(nurse)
    client.post(url, {"note": "Phoned"})
    client.force_login(physician)
    response = client.post(url, {"note": "Me too"}, follow=True)
    assert "already acknowledged" in response.content.decode()
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.acknowledgement_note) == (nurse, "Phoned")


def test_it_marks_a_reschedule_request_handled_once(
    client, front_desk, manager, reschedule_request
):
    url = reverse("reschedule_request_handled", args=[reschedule_request.pk])
    client.force_login(front_desk)
    assert client.get(url).status_code == 405
    page = client.get(reverse("reschedule_requests")).content.decode()
    assert "Fridays please" in page
    assert "Mark handled" in page
    assert client.post(url).status_code == 302
    reschedule_request.refresh_from_db()
    assert reschedule_request.handled_by == front_desk
    client.force_login(manager)
    response = client.post(url, follow=True)
    assert "already handled" in response.content.decode()
    reschedule_request.refresh_from_db()
    assert reschedule_request.handled_by == front_desk
    assert client.get(reverse("reschedule_requests")).context["table"].data.data.count() == 0


def test_it_refuses_handling_to_roles_without_the_permission(client, nurse, reschedule_request):
    client.force_login(nurse)
    url = reverse("reschedule_request_handled", args=[reschedule_request.pk])
    assert client.post(url).status_code == 403
    reschedule_request.refresh_from_db()
    assert reschedule_request.handled_at is None


def test_it_retries_a_failed_send_once(client, front_desk, failed):
    client.force_login(front_desk)
    page = client.get(reverse("failed_sends")).content.decode()
    assert "SMTPRecipientsRefused: 550" in page
    assert "Retry" in page
    url = reverse("invitation_retry", args=[failed.pk])
    assert client.post(url).status_code == 302
    failed.refresh_from_db()
    assert failed.status == Invitation.Status.SCHEDULED
    assert abs(failed.due_at - NOW()) < datetime.timedelta(minutes=1)
    failed.status = Invitation.Status.SENT
    failed.save()
    response = client.post(url, follow=True)
    assert "Nothing to retry" in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == Invitation.Status.SENT


def test_it_does_not_retry_a_survey_that_has_expired(client, front_desk, appointment):
    stale = SentSurveyFactory(
        appointment=appointment, status=Invitation.Status.FAILED, expires_at=days_ago(1)
    )
    client.force_login(front_desk)
    client.post(reverse("invitation_retry", args=[stale.pk]))
    stale.refresh_from_db()
    assert stale.status == Invitation.Status.FAILED


def test_it_refuses_retry_to_roles_without_the_permission(client, physician, failed):
    client.force_login(physician)
    assert client.post(reverse("invitation_retry", args=[failed.pk])).status_code == 403


@pytest.mark.parametrize(
    ("name", "persona", "export_name"),
    [
        ("followup_worklist", "nurse", "surveys-due"),
        ("response_list", "physician", "survey-responses"),
        ("alert_list", "nurse", "followup-alerts"),
        ("reschedule_requests", "front_desk", "reschedule-requests"),
        ("failed_sends", "front_desk", "failed-sends"),
        ("nonresponders", "front_desk", "nonresponders"),
        ("not_emailed", "front_desk", "not-emailed"),
    ],
)
def test_it_exports_each_worklist_as_csv(
    client, personas, answered, failed, reschedule_request, name, persona, export_name
):
    SentSurveyFactory(appointment=answered.invitation.appointment, status=Invitation.Status.SKIPPED)
    SentSurveyFactory(
        appointment=answered.invitation.appointment, sent_at=days_ago(10), reminders_sent=2
    )
    SentSurveyFactory(
        appointment=answered.invitation.appointment, status=Invitation.Status.SCHEDULED
    )
    client.force_login(personas[persona])
    response = client.get(reverse(name), {"_export": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"{export_name}.csv" in response["Content-Disposition"]
    assert "Jensen" in response.content.decode()
    # The list names patients: who took it out is on record.
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.user == personas[persona]


def test_it_audits_exports_of_clinical_lists(client, nurse, answered):
    client.force_login(nurse)
    client.get(reverse("response_list"), {"_export": "csv"})
    client.get(reverse("alert_list"), {"_export": "csv"})
    assert AuditEvent.objects.filter(user=nurse, action=AuditEvent.Action.EXPORT).count() == 2


def shifted_copy(appointment, days):
    """The same booking `days` later: another appointment that overlaps nothing."""
    copy = Appointment.objects.get(pk=appointment.pk)
    copy.pk = None
    for field in ("starts_at", "ends_at", "recovery_starts_at", "recovery_ends_at"):
        if getattr(copy, field) is not None:
            setattr(copy, field, getattr(copy, field) + datetime.timedelta(days=days))
    copy.save()
    return copy


@pytest.fixture
def add_rows(appointment):
    """Every kind of worklist row, `count` of each."""
    days_later = itertools.count(1)

    def add(count):
        for _ in range(count):
            SentSurveyFactory(
                appointment=appointment, status=Invitation.Status.SCHEDULED, sent_at=None
            )
            called = SentSurveyFactory(
                appointment=appointment, sent_at=days_ago(10), reminders_sent=2
            )
            worklist_call_log(invitation=called, user=None, outcome="no_answer")
            SentSurveyFactory(appointment=appointment, sent_at=days_ago(10), reminders_sent=2)
            SentSurveyFactory(appointment=appointment, status=Invitation.Status.SKIPPED)
            SentSurveyFactory(appointment=appointment, status=Invitation.Status.FAILED)
            AlertFactory(
                response=ResponseFactory(invitation=SentSurveyFactory(appointment=appointment))
            )
            # An appointment has one open request at most: each row asks to move another.
            RescheduleRequest.objects.create(
                appointment=shifted_copy(appointment, next(days_later))
            )

    return add


@pytest.mark.parametrize(
    ("name", "persona"),
    [
        ("followup_worklist", "nurse"),
        ("response_list", "physician"),
        ("alert_list", "nurse"),
        ("reschedule_requests", "front_desk"),
        ("failed_sends", "front_desk"),
        ("nonresponders", "front_desk"),
        ("nonresponders", "physician"),
        ("not_emailed", "nurse"),
        ("home", "nurse"),
        ("home", "front_desk"),
    ],
)
def test_it_takes_as_many_queries_for_many_rows_as_for_few(
    client, personas, add_rows, name, persona, assert_query_count_flat
):
    client.force_login(personas[persona])
    assert_query_count_flat(client, reverse(name), add_rows)


@pytest.mark.parametrize(
    ("name", "persona"), [("followup_worklist", "nurse"), ("response_list", "physician")]
)
def test_it_exports_as_many_rows_in_as_many_queries(
    client, personas, add_rows, name, persona, assert_query_count_flat
):
    """The export reads every column, hidden ones too: none may load a field per row."""
    client.force_login(personas[persona])
    assert_query_count_flat(client, reverse(name), add_rows, _export="csv")


def test_it_builds_the_patient_timeline_without_a_query_per_survey(
    client, nurse, patient, add_rows, assert_query_count_flat
):
    client.force_login(nurse)
    assert_query_count_flat(client, patient.get_absolute_url(), add_rows)


def test_it_lists_all_the_patients_follow_up_without_a_query_per_survey(
    client, nurse, patient, add_rows, assert_query_count_flat
):
    client.force_login(nurse)
    assert_query_count_flat(client, reverse("patient_followup", args=[patient.pk]), add_rows)


def test_it_shows_the_patients_follow_up_timeline(client, nurse, answered, patient):
    SentSurveyFactory(appointment=answered.invitation.appointment, opened_at=NOW())
    client.force_login(nurse)
    body = client.get(patient.get_absolute_url()).content.decode()
    assert "followup-timeline-title" in body
    assert "Follow-up survey" in body
    assert reverse("response_detail", args=[answered.pk]) in body


def test_it_counts_open_alerts_in_the_nav_badge(client, nurse, front_desk, answered):
    Alert.objects.create(patient=answered.patient, response=answered, kind=Alert.Kind.PGIC_WORSE)
    # Neither an acknowledged alert nor a clinical one (the physician's) is counted.
    Alert.objects.create(
        patient=answered.patient,
        response=answered,
        kind=Alert.Kind.WORSE_PAIN,
        acknowledged_at=NOW(),
        acknowledged_by=nurse,
        acknowledgement_note="Phoned: better today.",
    )
    Alert.objects.create(
        patient=answered.patient,
        appointment=answered.invitation.appointment,
        kind=Alert.Kind.NEWS2,
    )
    client.force_login(nurse)
    body = client.get(reverse("home")).content.decode()
    assert '2<span class="visually-hidden"> unacknowledged alerts</span>' in body
    client.force_login(front_desk)
    body = client.get(reverse("home")).content.decode()
    assert "unacknowledged alert" not in body
    assert reverse("reschedule_requests") in body


def test_it_counts_open_alerts_once_for_the_nav_badge_and_the_start_page(client, nurse, answered):
    Alert.objects.create(patient=answered.patient, response=answered, kind=Alert.Kind.PGIC_WORSE)
    client.force_login(nurse)
    with CaptureQueriesContext(connection) as queries:
        body = client.get(reverse("home")).content.decode()
    open_alerts = Alert.objects.filter(acknowledged_at__isnull=True).count()  # the answer's too
    assert open_alerts >= 1
    badge = f'{open_alerts}<span class="visually-hidden"> unacknowledged alert'
    assert badge in body
    assert f"Unacknowledged alerts</a>: <strong>{open_alerts}</strong>" in body  # start page
    alert_counts = [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT COUNT") and "followup_alert" in q["sql"]
    ]
    assert len(alert_counts) == 1


def test_it_links_rows_as_reverse_does_under_any_script_prefix():
    from django.urls import get_script_prefix, set_script_prefix

    from clinic.links import key_url

    before = get_script_prefix()
    try:
        for prefix in ("/", "/clinic/"):
            set_script_prefix(prefix)
            for name, pk in (("patient_detail", 7), ("response_detail", 9876543210)):
                assert key_url(name, pk) == reverse(name, args=[pk])
        assert key_url("patient_detail", 7) == "/clinic/patients/7/"
    finally:
        set_script_prefix(before)
    with override_settings(ROOT_URLCONF=__name__):
        assert key_url("patient_detail", 7) == "/elsewhere/7/"
    # What reverse() refuses, or writes from a string, key_url does the same.
    assert key_url("patient_detail", "7") == reverse("patient_detail", args=["7"])
    for refused in (-1, None, "not-a-number"):
        with pytest.raises(NoReverseMatch):
            key_url("patient_detail", refused)


# The URL configuration of the test above: another path for the same name.
urlpatterns = [path("elsewhere/<int:pk>/", lambda request, pk: None, name="patient_detail")]


def test_it_reads_red_flag_wording_only_for_a_page_that_shows_a_red_flag(
    client, physician, answered
):
    from followup.red_flags import red_flag_labels
    from followup.scoring import RED_FLAGS

    client.force_login(physician)

    def page():
        with CaptureQueriesContext(connection) as queries:
            body = client.get(reverse("response_list")).content.decode()
        return body, [q for q in queries if "followup_redflagquestion" in q["sql"]]

    body, wording_reads = page()
    assert "<td>None</td>" in body
    assert not wording_reads
    code = RED_FLAGS[0][0]
    ResponseFactory(
        invitation=SentSurveyFactory(appointment=answered.invitation.appointment),
        red_flags=[code],
    )
    body, wording_reads = page()
    assert f"<td>{red_flag_labels()[code]}</td>" in body
    assert len(wording_reads) == 1


def test_it_keeps_rows_due_or_answered_at_the_same_time_in_one_order(client, nurse, appointment):
    due = NOW() - datetime.timedelta(hours=1)
    surveys = [SentSurveyFactory(appointment=appointment, due_at=due) for _ in range(3)]
    for _ in range(3):
        ResponseFactory(invitation=SentSurveyFactory(appointment=appointment), submitted_at=due)
    client.force_login(nurse)

    def listed(name, **params):
        table = client.get(reverse(name), params).context["table"]
        return [row.record.pk for row in table.paginated_rows]

    tied = [survey.pk for survey in surveys]
    assert [pk for pk in listed("followup_worklist") if pk in tied] == tied
    answered = listed("response_list")
    assert answered == sorted(answered, reverse=True)
    assert listed("response_list", sort="submitted_at") == sorted(answered)

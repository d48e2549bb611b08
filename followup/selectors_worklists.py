"""Reads behind the follow-up worklists, the patient timeline and the nav badge.

Each returns a queryset with everything its table shows already joined, so a page takes
the same number of queries for ten rows as for a thousand.
"""

import datetime

from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from clinic import sites
from clinic.roles import Role, roles_of
from clinic.selectors import capped_count, field_by_key
from followup.models import (
    Alert,
    CarePlanStep,
    Invitation,
    RescheduleRequest,
    Response,
    WorklistAction,
)
from followup.red_flags import red_flag_labels, red_flag_questions, red_flag_regions
from followup.scoring import NDI_SECTIONS, ODI_SECTIONS, PGIC_CHOICES
from scheduling.models import Appointment

SURVEY_KINDS = Invitation.SURVEY_KINDS
# Sent or on its way: what "due" means on the worklist (failed sends have their own list).
OPEN_STATUSES = (
    Invitation.Status.SCHEDULED,
    Invitation.Status.QUEUED,
    Invitation.Status.SENDING,
    Invitation.Status.SENT,
)
PGIC_LABELS = dict(PGIC_CHOICES)


def overdue_q(now) -> Q:
    """Sent, unanswered, and either past its expiry or done with reminding.

    Done with reminding: no reminder is left to send (`next_reminder_at` is empty) and one
    reminder interval has passed since the last email, so the patient had time to answer.
    `sent_at` is the first send; reminder k went out about k intervals after it.
    """
    interval = datetime.timedelta(days=settings.FOLLOWUP_SURVEY_REMINDER_DAYS)
    most = settings.FOLLOWUP_SURVEY_MAX_REMINDERS
    quiet = Q(reminders_sent__gt=most, sent_at__lte=now - interval * (most + 1))
    for sent in range(most + 1):
        quiet |= Q(reminders_sent=sent, sent_at__lte=now - interval * (sent + 1))
    return Q(status=Invitation.Status.SENT, answered_at__isnull=True) & (
        Q(expires_at__lte=now) | (Q(next_reminder_at__isnull=True) & quiet)
    )


def survey_labels(invitation="") -> dict:
    """What a list row shows of its survey, as annotations: `procedure_name` and
    `step_name` (none for a baseline). The row is the invitation, or has it at `invitation`
    (a response).

    Lookups by key (`field_by_key`) rather than joins, through the appointment's key, so
    that the list's count joins nothing.
    """
    prefix = f"{invitation}__" if invitation else ""
    return {
        "procedure_name": field_by_key(
            Appointment, "procedure_type__name", f"{prefix}appointment_id"
        ),
        "step_name": field_by_key(CarePlanStep, "name", f"{prefix}step_id"),
    }


# Built once, as building them cost a list a few milliseconds a page: a query that uses
# an expression resolves a copy of it, never the expression itself.
INVITATION_LABELS = {
    **survey_labels(),
    "site_time_zone": field_by_key(Appointment, "site__time_zone", "appointment_id"),
}
RESPONSE_LABELS = {**survey_labels("invitation"), "survey_kind": F("invitation__kind")}

# A response's scores as the responses list shows them, in its order (followup.tables).
RESPONSE_SCORES = (
    "nrs_current",
    "nrs_average",
    "nrs_worst",
    "percent_relief",
    "patient_rated_relief",
    "pgic",
    "odi_percent",
    "ndi_percent",
)

# The patient as a list row shows it: name and MRN, linked.
PATIENT_SHOWN = ("patient__first_name", "patient__last_name", "patient__mrn")


def surveys_due(*, now=None) -> QuerySet:
    """Survey invitations whose time has come and that are not answered yet.

    `overdue` marks the ones the patient has not answered although every reminder went out.
    """
    now = now or timezone.now()
    return (
        Invitation.objects.filter(kind__in=SURVEY_KINDS, status__in=OPEN_STATUSES, due_at__lte=now)
        .annotate(
            overdue=Case(When(overdue_q(now), then=Value(True)), default=Value(False)),
            **INVITATION_LABELS,
        )
        .select_related("patient")
        .only(
            "kind",
            "due_at",
            "status",
            "sent_at",
            "opened_at",
            "reminders_sent",
            *PATIENT_SHOWN,
        )
        .order_by("due_at", "pk")
    )


def nonresponders(*, now=None) -> QuerySet:
    """Patients to phone for their answers.

    The survey was sent and every reminder went out without an answer (or the engine
    closed it unanswered), or it is due but could not be emailed (no address or consent).
    Each row carries its last logged call (`last_call_outcome`, `last_call_at`).
    """
    now = now or timezone.now()
    last_call = WorklistAction.objects.filter(
        invitation=OuterRef("pk"), kind=WorklistAction.Kind.CALL
    ).order_by("-at", "-pk")
    return (
        Invitation.objects.filter(nonresponder_q(now))
        .annotate(
            last_call_outcome=Subquery(last_call.values("outcome")[:1]),
            last_call_at=Subquery(last_call.values("at")[:1]),
        )
        .select_related("patient", "step", "appointment__procedure_type", "appointment__site")
        .order_by("due_at", "pk")
    )


def nonresponder_q(now) -> Q:
    """`nonresponders`' rows, as a filter."""
    return Q(kind__in=SURVEY_KINDS, answered_at__isnull=True) & (
        overdue_q(now)
        | Q(status=Invitation.Status.EXPIRED, sent_at__isnull=False)
        | Q(status=Invitation.Status.SKIPPED, due_at__lte=now)
    )


def worklist_open_q(today) -> Q:
    """Rows still to work: not closed, and not snoozed past `today`."""
    return Q(worklist_closed_at__isnull=True) & (
        Q(worklist_snoozed_until__isnull=True) | Q(worklist_snoozed_until__lte=today)
    )


NOT_EMAILED = Q(status=Invitation.Status.SKIPPED)


def nonresponders_for(user, *, not_emailed=None, now=None) -> QuerySet:
    """The non-responder rows `user` works: those emailed without an answer
    (`not_emailed=False`), or those that could not be emailed at all (True), kept apart
    because the patient never got the survey; None: both. A physician sees their own
    procedures' patients only."""
    return _worked_by(nonresponders(now=now), user, not_emailed=not_emailed)


def _worked_by(rows, user, *, not_emailed) -> QuerySet:
    if not_emailed is not None:
        rows = rows.filter(NOT_EMAILED) if not_emailed else rows.exclude(NOT_EMAILED)
    if Role.PHYSICIAN in roles_of(user):
        rows = rows.filter(appointment__physician=user)
    return rows


def nonresponder_rows(user, *, not_emailed, now=None) -> QuerySet:
    """The rows of a non-responder list (followup.tables.NonresponderTable): the names and
    the site's zone read by key (INVITATION_LABELS), only the patient joined. Open and
    snoozed rows, in the list's order by sent time, walk invitation_nonresponder_idx and stop
    at the page; closed rows are outside that index."""
    return (
        nonresponders_for(user, not_emailed=not_emailed, now=now)
        .select_related(None)
        .select_related("patient")
        .annotate(**INVITATION_LABELS)
    )


# The start page reads "999+" beyond this: the list itself is there to work them.
START_PAGE_COUNT_CAP = 999


def open_nonresponder_counts(user, *, now=None) -> dict:
    """Open rows only (closed and snoozed ones are worked off): the start page's numbers,
    counted up to START_PAGE_COUNT_CAP."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    counts = {}
    # The bare rows: the list's annotations and joins only cost the count time to build.
    open_rows = Invitation.objects.filter(nonresponder_q(now), worklist_open_q(today))
    open_rows = sites.appointments_in_scope(user, open_rows, "appointment__site")
    for key, not_emailed in (("nonresponders", False), ("not_emailed", True)):
        rows = _worked_by(open_rows, user, not_emailed=not_emailed)
        counts[key] = capped_count(rows, START_PAGE_COUNT_CAP)
    return counts


def worklist_actions(invitation) -> QuerySet:
    return invitation.worklist_actions.select_related("by")


def failed_sends() -> QuerySet:
    """Invitations whose email could not be sent; the last error says why."""
    return (
        Invitation.objects.filter(status=Invitation.Status.FAILED)
        .select_related("patient", "step", "appointment__procedure_type", "appointment__site")
        .order_by("-due_at", "pk")
    )


def reschedule_requests() -> QuerySet:
    return RescheduleRequest.objects.select_related(
        "appointment__patient",
        "appointment__procedure_type",
        "appointment__site",
        "handled_by",
    ).order_by("requested_at", "pk")


# The response's open alerts, counted by a correlated subquery. Not Count() over a join:
# that groups every response joined to five tables before the page's 25 rows are taken; a
# subquery is counted for the rows on the page only.
OPEN_ALERT_COUNT = Coalesce(
    Subquery(
        Alert.objects.filter(response=OuterRef("pk"), acknowledged_at__isnull=True)
        .order_by()
        .values("response")
        .annotate(n=Count("pk"))
        .values("n"),
        output_field=IntegerField(),
    ),
    Value(0),
)


def responses_with_scores() -> QuerySet:
    """Responses with their scores, open alert count (`open_alert_count`) and survey
    labels (`survey_labels`, `survey_kind`); the answers themselves are left unread."""
    return (
        Response.objects.select_related("patient")
        .annotate(open_alert_count=OPEN_ALERT_COUNT, **RESPONSE_LABELS)
        .only("submitted_at", *RESPONSE_SCORES, "red_flags", *PATIENT_SHOWN)
        .order_by("-submitted_at", "-pk")
    )


def responses_for_detail() -> QuerySet:
    return Response.objects.select_related(
        "patient",
        "invitation__step",
        "invitation__appointment__procedure_type",
        "invitation__appointment__site",
    ).prefetch_related("alerts__acknowledged_by")


def response_answer_rows(response) -> list[tuple[str, str, str]]:
    """(part, question, answer) rows of a response's stored answers, in survey order."""
    answers = response.answers or {}
    rows = []
    for key, label in (
        ("nrs_current", "Pain now (0-10)"),
        ("nrs_average", "Pain on average, last week (0-10)"),
        ("nrs_worst", "Worst pain, last week (0-10)"),
    ):
        if answers.get(key) is not None:
            rows.append(("Pain", label, str(answers[key])))
    for minutes, score in (answers.get("diary") or {}).items():
        rows.append(
            ("Pain diary", f"{minutes} minutes after", "—" if score is None else str(score))
        )
    if answers.get("relief") is not None:
        rows.append(("Relief", "Patient-rated relief", f"{answers['relief']}%"))
    if answers.get("pgic") is not None:
        label = PGIC_LABELS.get(answers["pgic"], "")
        rows.append(("Change", "PGIC", f"{answers['pgic']} – {label}"))
    for instrument, sections in (("odi", ODI_SECTIONS), ("ndi", NDI_SECTIONS)):
        given = answers.get(instrument) or {}
        for section_id, title in sections:
            if section_id in given:
                score = given[section_id]
                rows.append(
                    (instrument.upper(), title, "not answered" if score is None else str(score))
                )
    flags = answers.get("red_flags") or {}
    if flags:
        appointment = response.invitation.appointment
        labels = red_flag_labels(regions=red_flag_regions(appointment))
        asked = [row.code for row in red_flag_questions(appointment)]
        # The stored JSON keeps no order: show them as the survey asks them.
        for code in dict.fromkeys([*asked, *labels, *flags]):
            if code in flags:
                rows.append(("Red flags", labels.get(code, code), "Yes" if flags[code] else "No"))
    return rows


def alerts_for_worklist() -> QuerySet:
    """Alerts from survey answers: the nurses' phone list. Clinical alerts (NEWS2) are the
    physician's, on their start page and "Physician's day"."""
    return (
        Alert.objects.exclude(kind__in=Alert.CLINICAL_KINDS)
        .select_related("patient", "response__invitation__step", "acknowledged_by")
        .order_by("-created_at", "-pk")
    )


# Where an alert from a survey answer reaches its site (the alert list's site scope).
ALERT_SITE = "response__invitation__appointment__site"


def unacknowledged_alert_count(user) -> int:
    """For the nav badge (alerts from survey answers) of the user's sites, as the alert list
    shows them. For staff of every site one COUNT query, written out once (_OPEN_ALERTS_SQL):
    every staff page asks, and the ORM took longer to build the query than the database to
    run it."""
    if sites.user_site_ids(user) is not None:
        open_alerts = Alert.objects.filter(acknowledged_at__isnull=True).exclude(
            kind__in=Alert.CLINICAL_KINDS
        )
        return sites.appointments_in_scope(user, open_alerts, ALERT_SITE).count()
    with connection.cursor() as cursor:
        cursor.execute(_OPEN_ALERTS_SQL, [str(kind) for kind in Alert.CLINICAL_KINDS])
        return cursor.fetchone()[0]


_OPEN_ALERTS_SQL = (
    f"SELECT COUNT(*) FROM {Alert._meta.db_table} WHERE acknowledged_at IS NULL"
    f" AND kind NOT IN ({', '.join(['%s'] * len(Alert.CLINICAL_KINDS))})"
)


def _clinical_alerts() -> QuerySet:
    return Alert.objects.filter(kind__in=Alert.CLINICAL_KINDS).select_related(
        "patient",
        "appointment__procedure_type",
        "appointment__physician",
        "appointment__site",
        "acknowledged_by",
    )


def open_clinical_alerts_for(appointments) -> QuerySet:
    """The unacknowledged clinical alerts (NEWS2) of these appointments, oldest first."""
    return (
        _clinical_alerts()
        .filter(appointment__in=appointments, acknowledged_at__isnull=True)
        .order_by("created_at", "pk")
    )


def open_clinical_alerts_for_user(user) -> QuerySet:
    """The start page's clinical alerts: a physician's own procedures; every open one for
    the others who read alerts (nurses, managers), so that someone always sees them."""
    if not user.has_perm("followup.view_alert"):
        return Alert.objects.none()
    alerts = sites.appointments_in_scope(
        user, _clinical_alerts().filter(acknowledged_at__isnull=True), "appointment__site"
    )
    if Role.PHYSICIAN in roles_of(user):
        alerts = alerts.filter(appointment__physician=user)
    return alerts.order_by("created_at", "pk")


def clinical_alerts_of_appointments(appointments, *, user) -> QuerySet:
    """A physician's day: the clinical alerts of its appointments at the user's sites,
    open ones first."""
    return (
        sites.appointments_in_scope(user, _clinical_alerts(), "appointment__site")
        .filter(appointment__in=appointments)
        .order_by(F("acknowledged_at").desc(nulls_first=True), "created_at", "pk")
    )


def followup_counts(*, user, now=None, open_alerts: int | None = None) -> dict:
    """The start page's numbers, only those the user may see, of the user's sites (as the
    lists they open show them). `open_alerts`: the count of unacknowledged_alert_count when
    the page has it already (the nav badge)."""
    now = now or timezone.now()
    counts = {}

    def mine(rows):
        return sites.appointments_in_scope(user, rows, "appointment__site")

    if user.has_perm("followup.view_alert"):
        counts["open_alerts"] = (
            unacknowledged_alert_count(user) if open_alerts is None else open_alerts
        )
    if user.has_perm("followup.view_invitation"):
        counts["surveys_due"] = mine(surveys_due(now=now)).count()
    if user.has_perm("followup.view_reschedulerequest"):
        counts["reschedule_requests"] = mine(
            RescheduleRequest.objects.filter(handled_at__isnull=True)
        ).count()
    if user.has_perm("followup.view_emaillog"):
        counts["failed_sends"] = mine(failed_sends()).count()
    if user.has_perm("followup.view_worklistaction"):
        counts.update(open_nonresponder_counts(user, now=now))
    return counts

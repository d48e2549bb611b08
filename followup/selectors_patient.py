"""A patient's follow-up rows: the latest on their page, every one on their follow-up page.

A summary page that rendered every invitation grew with the patient's history (a busy
patient has well over a hundred rows); it shows the latest few and links to the rest.
Rows are read as values, times already in the site's zone: building model instances and
formatting dates in the template cost more than the query.
"""

import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from followup.models import Alert, Invitation

# Enough to see what is pending and how the last weeks went.
RECENT_ROWS = 10

KINDS = dict(Invitation.Kind.choices)
STATUSES = dict(Invitation.Status.choices)


@dataclass(frozen=True)
class FollowupRow:
    """One invitation as its row shows it: times as "YYYY-MM-DD HH:MM" at the appointment's
    site ("" when it has not happened), the response's scores (None without a response)."""

    survey: str
    procedure: str
    due: str
    status: str
    reminders_sent: int
    sent: str
    opened: str
    answered: str
    response_id: int | None
    nrs_current: int | None
    percent_relief: Decimal | None
    patient_rated_relief: int | None
    pgic: int | None
    odi_percent: Decimal | None
    ndi_percent: Decimal | None
    alert_count: int


def _invitation_rows(invitations: QuerySet) -> QuerySet:
    alerts = (
        Alert.objects.filter(response=OuterRef("response"))
        .order_by()
        .values("response")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return invitations.values(
        "kind",
        "status",
        "due_at",
        "sent_at",
        "opened_at",
        "answered_at",
        "reminders_sent",
        "response__nrs_current",
        "response__percent_relief",
        "response__patient_rated_relief",
        "response__pgic",
        "response__odi_percent",
        "response__ndi_percent",
        response_id=F("response__pk"),
        step_name=F("step__name"),
        procedure=F("appointment__procedure_type__name"),
        time_zone=F("appointment__site__time_zone"),
        alert_count=Coalesce(Subquery(alerts), 0),
    ).order_by("due_at", "pk")


def _row(values: dict) -> FollowupRow:
    zone = zoneinfo.ZoneInfo(values["time_zone"])

    def local(at) -> str:
        return "" if at is None else timezone.localtime(at, zone).strftime("%Y-%m-%d %H:%M")

    return FollowupRow(
        survey=values["step_name"] or KINDS.get(values["kind"], values["kind"]),
        procedure=values["procedure"],
        due=local(values["due_at"]),
        status=STATUSES.get(values["status"], values["status"]),
        reminders_sent=values["reminders_sent"],
        sent=local(values["sent_at"]),
        opened=local(values["opened_at"]),
        answered=local(values["answered_at"]),
        response_id=values["response_id"],
        nrs_current=values["response__nrs_current"],
        percent_relief=values["response__percent_relief"],
        patient_rated_relief=values["response__patient_rated_relief"],
        pgic=values["response__pgic"],
        odi_percent=values["response__odi_percent"],
        ndi_percent=values["response__ndi_percent"],
        alert_count=values["alert_count"],
    )


def patient_followup_rows(*, patient) -> list[FollowupRow]:
    """Every invitation of the patient, oldest first."""
    return [_row(values) for values in _invitation_rows(Invitation.objects.filter(patient=patient))]


def recent_patient_followup_rows(*, patient, rows: int = RECENT_ROWS) -> tuple[list, int]:
    """The patient's latest `rows` invitations by due date, oldest first, and how many the
    patient has in all (one query)."""
    mine = Invitation.objects.filter(patient=patient)
    # The latest picked first, so only they are joined to their responses.
    latest = mine.order_by("-due_at", "-pk").values("pk")[:rows]
    total = mine.order_by().values("patient").annotate(count=Count("pk")).values("count")
    found = list(
        _invitation_rows(Invitation.objects.filter(pk__in=latest)).annotate(total=Subquery(total))
    )
    return [_row(values) for values in found], found[0]["total"] if found else 0

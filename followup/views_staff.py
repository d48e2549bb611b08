"""Staff worklists of follow-up: surveys due, responses, alerts, reschedule requests,
failed sends and non-responders.

Clinical pages (responses, scores, alerts) need the clinical permissions; the front desk's
pages (reschedule requests, failed sends, non-responders) show contact details only.
"""

import datetime

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from clinic import sites
from clinic.audit import audit_record
from clinic.decorators import permission_required
from clinic.models import AuditEvent
from clinic.ui import render_table
from followup import selectors_worklists as selectors
from followup import tables
from followup.filters import (
    AlertFilter,
    FailedSendFilter,
    NonresponderFilter,
    RescheduleRequestFilter,
    ResponseFilter,
    SurveyWorklistFilter,
)
from followup.forms import (
    AlertAcknowledgeForm,
    WorklistCallForm,
    WorklistCloseForm,
    WorklistSnoozeForm,
)
from followup.models import Alert, Invitation, RescheduleRequest
from followup.patient_services import invitation_retry, reschedule_request_mark_handled
from followup.services import AlertAlreadyAcknowledged, AlertNotForThisRole, alert_acknowledge
from followup.services_worklists import (
    WorklistRefused,
    worklist_call_log,
    worklist_close,
    worklist_snooze,
)

LIST_TEMPLATE = "followup/staff/list.html"


def _worklist(
    request,
    *,
    filter_class,
    queryset,
    table_class,
    export_name,
    title,
    intro,
    tab,
    export_audit="",
    audit_reads="",
    defaults=None,
    site_field="appointment__site",
    blank_is_default=False,
    uncounted=False,
):
    """One worklist page: filters (with `defaults` when none was chosen), table, CSV export.

    A filter sent empty keeps its empty choice ("All"), unless `blank_is_default`.
    """
    data = request.GET.copy()
    for key, value in (defaults or {}).items():
        if blank_is_default and not data.get(key):
            data[key] = value
        data.setdefault(key, value)
    # Staff limited to some sites see those sites' rows (clinic.sites).
    queryset = sites.appointments_in_scope(request.user, queryset, site_field)
    filterset = filter_class(data, queryset=queryset)
    return render_table(
        request,
        table=table_class(filterset.qs),
        filterset=filterset,
        template=LIST_TEMPLATE,
        export_name=export_name,
        export_audit=export_audit,
        audit_reads=audit_reads,
        context={"title": title, "intro": intro, "tab": tab},
        uncounted=uncounted,
    )


@permission_required("followup.view_invitation")
def followup_worklist(request):
    return _worklist(
        request,
        filter_class=SurveyWorklistFilter,
        queryset=selectors.surveys_due(),
        table_class=tables.SurveyWorklistTable,
        export_name="surveys-due",
        title="Surveys due and overdue",
        intro="Surveys whose time has come and that the patient has not answered yet.",
        tab="worklist",
    )


# The responses list opens on the last 30 days unless a date is asked for.
RESPONSES_DEFAULT_DAYS = 30


@permission_required("followup.view_response")
def response_list(request):
    defaults = {}
    if not request.GET.get("answered_from") and not request.GET.get("answered_to"):
        since = timezone.localdate() - datetime.timedelta(days=RESPONSES_DEFAULT_DAYS)
        defaults["answered_from"] = since.isoformat()
    return _worklist(
        request,
        filter_class=ResponseFilter,
        queryset=selectors.responses_with_scores(),
        site_field="invitation__appointment__site",
        table_class=tables.ResponseTable,
        export_name="survey-responses",
        export_audit="survey responses",
        audit_reads="survey responses (list)",
        title="Survey responses",
        intro=(
            "Answers and scores; relief and disability scores are rounded to one decimal. "
            f"The list opens on the last {RESPONSES_DEFAULT_DAYS} days: choose an earlier "
            "'Answered from' for older answers."
        ),
        defaults=defaults,
        blank_is_default=True,
        # Tens of thousands of answers a month at a busy clinic: not counted page by page.
        uncounted=True,
        tab="responses",
    )


@permission_required("followup.view_response")
def response_detail(request, pk):
    response = get_object_or_404(selectors.responses_for_detail(), pk=pk)
    audit_record(
        request=request,
        action=AuditEvent.Action.VIEW,
        obj=response,
        patient=response.patient,
        detail="survey response",
    )
    return render(
        request,
        "followup/staff/response_detail.html",
        {"response": response, "rows": selectors.response_answer_rows(response)},
    )


@permission_required("followup.view_alert")
def alert_list(request):
    return _worklist(
        request,
        filter_class=AlertFilter,
        queryset=selectors.alerts_for_worklist(),
        site_field=selectors.ALERT_SITE,
        table_class=tables.AlertTable,
        export_name="followup-alerts",
        export_audit="follow-up alerts",
        audit_reads="follow-up alerts (list)",
        defaults={"state": "open"},
        title="Alerts",
        intro=(
            "Red flags, worse pain and patients feeling much worse. Phone the "
            "patient, then acknowledge with what was done."
        ),
        tab="alerts",
    )


def _next(request) -> str:
    """Where the alert was opened from (start page, physician's day), if it is this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and safe else ""


def _after_acknowledging(request, alert):
    return redirect(_next(request) or ("home" if alert.is_clinical else "alert_list"))


@permission_required("followup.change_alert")
def alert_acknowledge_view(request, pk):
    alert = get_object_or_404(
        Alert.objects.select_related(
            "patient",
            "response",
            "acknowledged_by",
            "appointment__procedure_type",
            "appointment__physician",
            "appointment__site",
        ),
        pk=pk,
    )
    form = AlertAcknowledgeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            alert_acknowledge(alert=alert, user=request.user, note=form.cleaned_data["note"])
        except AlertAlreadyAcknowledged:
            alert.refresh_from_db()
            messages.warning(
                request,
                f"This alert was already acknowledged by {alert.acknowledged_by} - "
                "nothing was changed.",
            )
        except AlertNotForThisRole as refusal:
            messages.error(request, refusal.detail)
        else:
            audit_record(
                request=request,
                action=AuditEvent.Action.CHANGE,
                obj=alert,
                patient=alert.patient,
                detail="alert acknowledged",
            )
            messages.success(request, f"Alert for {alert.patient.full_name} acknowledged.")
        return _after_acknowledging(request, alert)
    if request.method == "GET":
        audit_record(
            request=request,
            action=AuditEvent.Action.VIEW,
            obj=alert,
            patient=alert.patient,
            detail="alert",
        )
    return render(
        request,
        "followup/staff/alert_acknowledge.html",
        {"alert": alert, "form": form, "next": _next(request)},
    )


@permission_required("followup.view_reschedulerequest")
def reschedule_requests(request):
    return _worklist(
        request,
        filter_class=RescheduleRequestFilter,
        queryset=selectors.reschedule_requests(),
        table_class=tables.RescheduleRequestTable,
        export_name="reschedule-requests",
        defaults={"state": "open"},
        title="Reschedule requests",
        intro=(
            "Patients who asked from their reminder email to move the appointment. "
            "Call them, rebook, then mark the request handled."
        ),
        tab="reschedule",
    )


@require_POST
@permission_required("followup.change_reschedulerequest")
def reschedule_request_handled(request, pk):
    reschedule_request = get_object_or_404(RescheduleRequest, pk=pk)
    if reschedule_request_mark_handled(reschedule_request=reschedule_request, user=request.user):
        messages.success(request, "Request marked as handled.")
    else:
        messages.info(request, "Someone else had already handled this request.")
    return redirect("reschedule_requests")


@permission_required("followup.view_emaillog")
def failed_sends(request):
    return _worklist(
        request,
        filter_class=FailedSendFilter,
        queryset=selectors.failed_sends(),
        table_class=tables.FailedSendTable,
        export_name="failed-sends",
        title="Failed sends",
        intro="Emails that could not be sent. Check the patient's email address, then retry.",
        tab="failed",
    )


@require_POST
@permission_required("followup.change_invitation")
def invitation_retry_view(request, pk):
    invitation = get_object_or_404(Invitation.objects.select_related("patient"), pk=pk)
    if invitation_retry(invitation=invitation):
        messages.success(
            request, f"The email to {invitation.patient.full_name} will be sent again shortly."
        )
    else:
        messages.info(
            request,
            "Nothing to retry: this email was already retried, or its survey has expired.",
        )
    return redirect("failed_sends")


NONRESPONDER_LISTS = {
    False: {
        "title": "Non-responders",
        "intro": (
            "Surveys sent with every reminder and still not answered: phone the patient, "
            "then log the call, snooze the row or close it. Calls and snoozes take a row "
            "off the list until the day it is due again."
        ),
        "tab": "nonresponders",
        "export_name": "nonresponders",
    },
    True: {
        "title": "Not emailed",
        "intro": (
            "Surveys that could not be emailed (no address, or no consent to email): the "
            "patient never got them. Phone for the answers or for an email address."
        ),
        "tab": "not_emailed",
        "export_name": "not-emailed",
    },
}


def _nonresponder_list(request, *, not_emailed):
    return _worklist(
        request,
        filter_class=NonresponderFilter,
        queryset=selectors.nonresponder_rows(request.user, not_emailed=not_emailed),
        table_class=tables.NonresponderTable,
        defaults={"state": "open"},
        # A backlog can run to tens of thousands of rows: worked from the top, not counted.
        uncounted=True,
        **NONRESPONDER_LISTS[not_emailed],
    )


@permission_required("followup.view_worklistaction")
def nonresponders(request):
    return _nonresponder_list(request, not_emailed=False)


@permission_required("followup.view_worklistaction")
def not_emailed(request):
    return _nonresponder_list(request, not_emailed=True)


WORK_FORMS = {"call": WorklistCallForm, "snooze": WorklistSnoozeForm, "close": WorklistCloseForm}


def _work_act(request, invitation, action, data):
    note = data.get("note", "")
    if action == "call":
        worklist_call_log(
            invitation=invitation, user=request.user, outcome=data["outcome"], note=note
        )
        return "Call logged."
    if action == "snooze":
        worklist_snooze(invitation=invitation, user=request.user, until=data["until"], note=note)
        return f"Snoozed until {data['until']:%Y-%m-%d}."
    worklist_close(invitation=invitation, user=request.user, reason=data["reason"], note=note)
    return "Row closed."


@permission_required("followup.add_worklistaction")
def nonresponder_work(request, pk):
    """One row of the non-responder lists: its contact details, what was done so far, and
    the three ways to work it (log a call, snooze, close)."""
    rows = sites.appointments_in_scope(
        request.user, selectors.nonresponders_for(request.user), "appointment__site"
    )
    invitation = get_object_or_404(rows, pk=pk)
    back = "not_emailed" if invitation.status == Invitation.Status.SKIPPED else "nonresponders"
    action = request.POST.get("action") if request.method == "POST" else None
    forms = {
        name: form_class(request.POST if name == action else None, prefix=name)
        for name, form_class in WORK_FORMS.items()
    }
    if action in forms and forms[action].is_valid():
        try:
            done = _work_act(request, invitation, action, forms[action].cleaned_data)
        except WorklistRefused as refusal:
            messages.error(request, refusal.detail)
        else:
            audit_record(
                request=request,
                action=AuditEvent.Action.CHANGE,
                obj=invitation,
                patient=invitation.patient,
                detail=f"non-responder worklist: {action}",
            )
            messages.success(request, f"{invitation.patient.full_name}: {done}")
        return redirect(back)
    return render(
        request,
        "followup/staff/nonresponder_work.html",
        {
            "invitation": invitation,
            "forms": forms,
            "actions": selectors.worklist_actions(invitation),
            "back": back,
            "tab": back,
        },
    )

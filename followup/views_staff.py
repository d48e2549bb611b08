"""Staff worklists of follow-up: surveys due, responses, alerts, reschedule requests,
failed sends and non-responders.

Clinical pages (responses, scores, alerts) need the clinical permissions; the front desk's
pages (reschedule requests, failed sends, non-responders) show contact details only.
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
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
from followup.forms import AlertAcknowledgeForm
from followup.models import Alert, Invitation, RescheduleRequest
from followup.patient_services import invitation_retry, reschedule_request_mark_handled
from followup.services import AlertAlreadyAcknowledged, alert_acknowledge

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
):
    """One worklist page: filters (with `defaults` when none was chosen), table, CSV export."""
    data = request.GET.copy()
    for key, value in (defaults or {}).items():
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


@permission_required("followup.view_response")
def response_list(request):
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
        intro="Answers and scores; relief and disability scores are rounded to one decimal.",
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
        site_field="response__invitation__appointment__site",
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


@permission_required("followup.change_alert")
def alert_acknowledge_view(request, pk):
    alert = get_object_or_404(
        Alert.objects.select_related("patient", "response", "acknowledged_by"), pk=pk
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
        else:
            audit_record(
                request=request,
                action=AuditEvent.Action.CHANGE,
                obj=alert,
                patient=alert.patient,
                detail="alert acknowledged",
            )
            messages.success(request, f"Alert for {alert.patient.full_name} acknowledged.")
        return redirect("alert_list")
    return render(request, "followup/staff/alert_acknowledge.html", {"alert": alert, "form": form})


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


@permission_required("followup.view_emaillog")
def nonresponders(request):
    return _worklist(
        request,
        filter_class=NonresponderFilter,
        queryset=selectors.nonresponders(),
        table_class=tables.NonresponderTable,
        export_name="nonresponders",
        title="Non-responders",
        intro="Surveys sent with every reminder and still not answered: phone the patient.",
        tab="nonresponders",
    )

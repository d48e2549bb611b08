"""Follow-up's part of a patient's GDPR rights (see clinic.privacy): surveys, answers,
alerts, the emails sent to them and their requests to reschedule."""

from django.db.models import Q

from clinic.privacy import REMOVED, Section, rows
from followup.models import (
    Alert,
    EmailLog,
    Invitation,
    OutcomeEpisode,
    RescheduleRequest,
    Response,
    WorklistAction,
)


def _emails(patient):
    # A log row outlives its patient link (SET_NULL); the address alone still names them.
    to_them = Q(patient=patient)
    if patient.email:
        to_them |= Q(to_address__iexact=patient.email)
    return EmailLog.objects.filter(to_them)


def export_sections(patient) -> list[Section]:
    return [
        Section(
            "invitations",
            "Surveys and reminders",
            rows(
                Invitation.objects.filter(patient=patient),
                [
                    "appointment_id",
                    "kind",
                    "instruments",
                    "due_at",
                    "status",
                    "sent_at",
                    "answered_at",
                ],
            ),
        ),
        Section(
            "survey_responses",
            "Survey responses",
            rows(
                Response.objects.filter(patient=patient).select_related("invitation"),
                [
                    "invitation.appointment_id",
                    "invitation.kind",
                    "submitted_at",
                    "answers",
                    "nrs_current",
                    "nrs_average",
                    "nrs_worst",
                    "pgic",
                    "patient_rated_relief",
                    "percent_relief",
                    "odi_percent",
                    "ndi_percent",
                    "red_flags",
                ],
            ),
        ),
        Section(
            "alerts",
            "Alerts raised by answers",
            rows(
                Alert.objects.filter(patient=patient).select_related("acknowledged_by"),
                [
                    "kind",
                    "detail",
                    "created_at",
                    "acknowledged_by",
                    "acknowledged_at",
                    "acknowledgement_note",
                ],
            ),
        ),
        Section(
            "outcomes",
            "Outcomes computed from the answers, per procedure",
            rows(
                OutcomeEpisode.objects.filter(patient=patient),
                [
                    "appointment_id",
                    "treated_on",
                    "baseline_nrs",
                    "baseline_source",
                    "last_point",
                    "last_relief",
                    "immpact_category",
                    "disability_instrument",
                    "disability_change",
                    "pgic_last",
                    "durable_days",
                    "durable_event",
                ],
            ),
        ),
        Section(
            "worklist_actions",
            "Calls about unanswered surveys",
            rows(
                WorklistAction.objects.filter(invitation__patient=patient).select_related("by"),
                ["invitation_id", "kind", "outcome", "reason", "snoozed_until", "note", "by", "at"],
            ),
        ),
        Section(
            "emails_sent",
            "Emails sent",
            rows(_emails(patient), ["at", "kind", "to_address", "status", "error"]),
        ),
        Section(
            "reschedule_requests",
            "Requests to reschedule",
            rows(
                RescheduleRequest.objects.filter(appointment__patient=patient).select_related(
                    "handled_by"
                ),
                ["appointment_id", "requested_at", "message", "handled_by", "handled_at"],
            ),
        ),
    ]


def patient_rows(patient) -> list:
    return [
        Invitation.objects.filter(patient=patient),
        Response.objects.filter(patient=patient),
        Alert.objects.filter(patient=patient),
        _emails(patient),
        RescheduleRequest.objects.filter(appointment__patient=patient),
        OutcomeEpisode.objects.filter(patient=patient),
        WorklistAction.objects.filter(invitation__patient=patient),
    ]


def anonymise(patient) -> None:
    """Blank the addresses and what the patient wrote outside the surveys, drop unsent
    drafts and cancel what was still to be sent.

    Runs after the scrub, which marked the addresses of log rows no longer linked to the
    patient as removed.
    """
    EmailLog.objects.filter(Q(patient=patient) | Q(to_address=REMOVED)).update(to_address="")
    RescheduleRequest.objects.filter(appointment__patient=patient).update(message="")
    Invitation.objects.filter(patient=patient, answered_at__isnull=True).update(draft={})
    Invitation.objects.filter(
        patient=patient, status__in=(Invitation.Status.SCHEDULED, Invitation.Status.QUEUED)
    ).update(status=Invitation.Status.CANCELLED)

"""Pages patients reach from their emails: the survey, confirm, reschedule and unsubscribe.

Patients never log in. A signed, purpose-bound, expiring token in the link names the
invitation (followup.tokens). Mail scanners and link previews open links, so a GET only
ever shows a page; answers, confirmations and requests are recorded by a POST alone.
Every page is in the patient's own language, and a bad or old link gets a friendly page
with the clinic's phone number instead of an error.
"""

from django.conf import settings
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.ratelimit import post_rate_limited
from followup.forms import (
    RescheduleRequestForm,
    SurveyForm,
    instrument_wording,
    survey_instruments,
)
from followup.models import Invitation, RedFlagRegion, Response
from followup.patient_services import (
    ConfirmOutcome,
    appointment_can_be_confirmed,
    appointment_can_be_moved_by_request,
    appointment_patient_confirm,
    invitation_mark_opened,
    reschedule_request_create,
    survey_draft_save,
)
from followup.red_flags import red_flag_questions, red_flag_regions
from followup.services import (
    SurveyAlreadyAnswered,
    SurveyClosed,
    SurveyInvalid,
    patient_unsubscribe,
    response_record,
)
from followup.tokens import TokenExpired, TokenInvalid, read_token
from scheduling.models import Status

# The survey's invitation id lives in the session once the link was opened, so the token
# is not left in the address bar, the browser history or a Referer header.
SESSION_KEY = "followup_survey_invitation"
# Every survey opened in this browser, so a page left open in another tab still records
# its answers against its own survey (the form names it) and not the one opened last.
SESSION_OPENED_KEY = "followup_survey_invitations"
SESSION_OPENED_MAX = 10
# The hidden form field naming the survey a page was shown for.
INVITATION_FIELD = "invitation"
# The survey answered last, for the thank-you page.
SESSION_ANSWERED_KEY = "followup_survey_answered"

# Why a link cannot be used, and the HTTP status its page is sent with.
LINK_PROBLEMS = {
    "invalid": 400,  # tampered, truncated or for another purpose
    "expired": 410,  # the token or the survey is past its time
    "cancelled": 410,  # the survey or appointment is no longer needed
    "session": 400,  # the survey page was opened without its link (or the session ended)
}


def _language(patient) -> str:
    languages = dict(settings.LANGUAGES)
    if patient is not None and patient.preferred_language in languages:
        return patient.preferred_language
    current = translation.get_language() or settings.LANGUAGE_CODE
    return current if current in languages else settings.LANGUAGE_CODE


def _clinic_phone(appointment) -> str:
    site = appointment.site if appointment is not None else None
    return (site.phone if site is not None else "") or settings.CLINIC_PHONE


def _page(request, template, context=None, *, invitation=None, status=200):
    """Render a public page in the patient's language with the right phone number."""
    patient = invitation.patient if invitation is not None else None
    appointment = invitation.appointment if invitation is not None else None
    language = _language(patient)
    with translation.override(language):
        response = render(
            request,
            template,
            {
                "clinic_phone": _clinic_phone(appointment),
                "appointment": appointment,
                **(context or {}),
            },
            status=status,
        )
    response["Content-Language"] = language
    return response


def _link_problem(request, problem, *, invitation=None):
    return _page(
        request,
        "followup/public/link_problem.html",
        {"problem": problem},
        invitation=invitation,
        status=LINK_PROBLEMS[problem],
    )


def _too_many(request):
    return _page(request, "followup/public/too_many.html", status=429)


# Answers, confirmations and reschedule requests: PATIENT_POST_LIMIT per address in 10 minutes.
patient_post_limit = post_rate_limited(
    scope="patient-post", limit_setting="PATIENT_POST_LIMIT", refused=_too_many
)


def _invitation_from_token(token, purpose):
    """(invitation, None), or (None, problem) for a bad, old or orphaned token."""
    try:
        invitation_id = read_token(token, purpose=purpose)
    except TokenExpired:
        return None, "expired"
    except TokenInvalid:
        return None, "invalid"
    invitation = (
        Invitation.objects.select_related(
            "patient", "appointment__site", "appointment__procedure_type"
        )
        .filter(pk=invitation_id)
        .first()
    )
    return (invitation, None) if invitation is not None else (None, "invalid")


def _survey_problem(invitation, now=None):
    """Which link-problem page explains a survey that is not answerable, or None."""
    if invitation.is_answerable(now or timezone.now()):
        return None
    if not invitation.is_survey:
        return "invalid"
    if invitation.status == Invitation.Status.CANCELLED:
        return "cancelled"
    return "expired"


@require_GET
def survey_start(request, token):
    """Check the emailed link, keep its invitation in the session, and drop the token."""
    invitation, problem = _invitation_from_token(token, "survey")
    if problem:
        return _link_problem(request, problem)
    if not invitation.is_answered:
        problem = _survey_problem(invitation)
        if problem:
            return _link_problem(request, problem, invitation=invitation)
    request.session[SESSION_KEY] = invitation.pk
    request.session.pop(SESSION_ANSWERED_KEY, None)
    opened = [pk for pk in request.session.get(SESSION_OPENED_KEY, []) if pk != invitation.pk]
    request.session[SESSION_OPENED_KEY] = [*opened, invitation.pk][-SESSION_OPENED_MAX:]
    invitation_mark_opened(invitation=invitation)
    return redirect("survey")


def _session_invitation(request, key=SESSION_KEY):
    """The survey this request is about: the one the posted page names, if this browser
    opened its link, else the one opened last; None without an opened link."""
    invitation_id = request.session.get(key)
    if invitation_id is None:
        return None
    posted = request.POST.get(INVITATION_FIELD, "") if request.method == "POST" else ""
    if posted:
        opened = request.session.get(SESSION_OPENED_KEY, [])
        known = {str(pk) for pk in (*opened, invitation_id)}
        if posted not in known:
            return None
        invitation_id = int(posted)
    # get(), not first(): without the model's ordering by due time, which a read by id
    # does not need and every survey page paid to build.
    rows = Invitation.objects.select_related(
        "patient", "appointment__site", "appointment__procedure_type"
    )
    try:
        return rows.get(pk=invitation_id)
    except Invitation.DoesNotExist:
        return None


def _already_answered(request, invitation, status=200):
    return _page(
        request, "followup/public/already_answered.html", invitation=invitation, status=status
    )


@require_http_methods(["GET", "POST"])
@patient_post_limit
def survey(request):
    """Show the survey (GET) or record the answers (POST); drafts are kept on the way."""
    invitation = _session_invitation(request)
    if invitation is None:
        return _link_problem(request, "session")
    if invitation.is_answered:
        return _already_answered(request, invitation, 200 if request.method == "GET" else 409)
    problem = _survey_problem(invitation)
    if problem:
        return _link_problem(request, problem, invitation=invitation)

    with translation.override(_language(invitation.patient)):
        instruments = survey_instruments(invitation)
        options = {
            "instruments": instruments,
            "wording": instrument_wording(
                instruments=instruments, language=invitation.patient.preferred_language
            ),
            "red_flags": red_flag_questions(invitation.appointment),
        }
        draft_saved = False
        score_gaps = []
        if request.method == "GET":
            form = SurveyForm(initial=invitation.draft, **options)
        else:
            form = SurveyForm(request.POST, **options)
            if "save_draft" in request.POST:
                draft_saved = survey_draft_save(invitation=invitation, draft=form.draft())
            elif form.is_valid() and (
                score_gaps := [] if request.POST.get("send_anyway") else form.score_gaps()
            ):
                pass  # asked again below: answer more parts, or send without the score
            elif form.is_valid():
                try:
                    response_record(invitation=invitation, answers=form.answers())
                except SurveyAlreadyAnswered:
                    return _already_answered(request, invitation, 409)
                except SurveyClosed:
                    return _link_problem(request, "expired", invitation=invitation)
                except SurveyInvalid as exc:
                    form.add_service_errors(exc.errors)
                else:
                    # The thank-you page is about the survey just answered.
                    request.session[SESSION_ANSWERED_KEY] = invitation.pk
                    return redirect("survey_thanks")
            if not draft_saved:
                # Keep what was answered, so a correction does not start from scratch.
                survey_draft_save(invitation=invitation, draft=form.draft())
        return _page(
            request,
            "followup/public/survey.html",
            {
                "form": form,
                "invitation": invitation,
                "draft_saved": draft_saved,
                "score_gaps": score_gaps,
            },
            invitation=invitation,
        )


@require_POST
@patient_post_limit
def survey_draft(request):
    """Autosave (htmx) of the answers so far, so a phone going to sleep loses nothing."""
    invitation = _session_invitation(request)
    if invitation is None or invitation.is_answered or _survey_problem(invitation):
        return _page(request, "followup/public/draft_status.html", {"saved": False}, status=409)
    with translation.override(_language(invitation.patient)):
        instruments = survey_instruments(invitation)
        form = SurveyForm(
            request.POST,
            instruments=instruments,
            red_flags=red_flag_questions(invitation.appointment),
        )
    saved = survey_draft_save(invitation=invitation, draft=form.draft())
    return _page(
        request,
        "followup/public/draft_status.html",
        {"saved": saved, "saved_at": timezone.now()},
        invitation=invitation,
        status=200 if saved else 409,
    )


@require_GET
def survey_thanks(request):
    """Thank the patient; when the answers raised an alert, tell them whom to call now."""
    invitation = _session_invitation(request, SESSION_ANSWERED_KEY) or _session_invitation(request)
    if invitation is None:
        return _link_problem(request, "session")
    if not invitation.is_answered:
        return redirect("survey")
    response = Response.objects.filter(invitation=invitation).prefetch_related("alerts").first()
    alerts = list(response.alerts.all()) if response is not None else []
    red_flag = any(alert.kind == alert.Kind.RED_FLAG for alert in alerts)
    reported, lumbar = [], False
    if red_flag:
        # The warning signs the patient said yes to, in their words, and the emergency
        # advice of their region (cauda equina signs only after lumbar and sacral treatment).
        language = _language(invitation.patient)
        asked = {row.code: row for row in red_flag_questions(invitation.appointment)}
        reported = [asked[code].text(language) for code in response.red_flags if code in asked]
        lumbar = RedFlagRegion.LUMBAR_SACRAL in red_flag_regions(invitation.appointment)
    return _page(
        request,
        "followup/public/thanks.html",
        {
            "alerts": alerts,
            "red_flag": red_flag,
            "reported_signs": reported,
            "lumbar_signs": lumbar,
            "emergency_phone": settings.FOLLOWUP_EMERGENCY_PHONE,
        },
        invitation=invitation,
    )


@require_http_methods(["GET", "POST"])
@patient_post_limit
def appointment_confirm(request, token):
    """GET shows the appointment and a button; only the POST confirms it."""
    invitation, problem = _invitation_from_token(token, "confirm")
    if problem:
        return _link_problem(request, problem)
    appointment = invitation.appointment
    if request.method == "POST":
        outcome = appointment_patient_confirm(appointment=appointment)
        return _page(
            request,
            "followup/public/confirm_done.html",
            {"outcome": outcome.value},
            invitation=invitation,
        )
    if appointment.status == Status.CONFIRMED:
        outcome = ConfirmOutcome.ALREADY_CONFIRMED
    elif appointment_can_be_confirmed(appointment):
        return _page(request, "followup/public/confirm.html", invitation=invitation)
    else:
        outcome = ConfirmOutcome.NOT_CONFIRMABLE
    return _page(
        request,
        "followup/public/confirm_done.html",
        {"outcome": outcome.value},
        invitation=invitation,
    )


@require_http_methods(["GET", "POST"])
@patient_post_limit
def appointment_reschedule_request(request, token):
    """GET shows a form with an optional message; the POST puts it on the front desk's list."""
    invitation, problem = _invitation_from_token(token, "reschedule")
    if problem:
        return _link_problem(request, problem)
    appointment = invitation.appointment
    if not appointment_can_be_moved_by_request(appointment):
        return _page(
            request,
            "followup/public/reschedule_done.html",
            {"movable": False},
            invitation=invitation,
        )
    with translation.override(_language(invitation.patient)):
        form = RescheduleRequestForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            reschedule_request_create(appointment=appointment, message=form.cleaned_data["message"])
            return _page(
                request,
                "followup/public/reschedule_done.html",
                {"movable": True},
                invitation=invitation,
            )
        return _page(
            request, "followup/public/reschedule.html", {"form": form}, invitation=invitation
        )


# RFC 8058 one-click unsubscribe: the mail client POSTs "List-Unsubscribe=One-Click" to the
# List-Unsubscribe URL without cookies or a form, so no CSRF token can be sent. Exempting
# this view is safe: the signed token in the URL is the credential, a forged cross-site
# POST would have to know it, and the only effect is to stop emails to that patient.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET asks for a click (scanners must not unsubscribe anyone); POST unsubscribes."""
    invitation, problem = _invitation_from_token(token, "unsubscribe")
    if problem:
        return _link_problem(request, problem)
    if request.method == "POST":
        patient_unsubscribe(patient=invitation.patient)
        return _page(request, "followup/public/unsubscribe_done.html", invitation=invitation)
    return _page(request, "followup/public/unsubscribe.html", invitation=invitation)

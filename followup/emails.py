"""The emails of the follow-up engine, built from templates in the patient's language.

Patient emails are multipart (plain text and HTML), name the clinic and its phone number,
and never a diagnosis or a procedure: an inbox, a lock screen or a shared calendar may be
seen by others. Links are absolute (SITE_URL) and carry signed tokens (followup.tokens).

They are sent with `message_send`, over one SMTP connection per worker process.
"""

import contextlib
import datetime
import email.policy
import functools
import logging
import re
import secrets
import smtplib
import threading
import time
from collections.abc import Mapping
from types import MappingProxyType

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.message import forbid_multi_line_headers
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import pgettext

from clinic.links import key_url
from followup import selectors
from followup.models import Invitation
from followup.tokens import make_token
from scheduling.advice import medication_plan
from scheduling.models import MOVABLE_STATUSES, Status

logger = logging.getLogger(__name__)

# Header naming the row an email belongs to, for support and for the delivery tests.
INVITATION_HEADER = "X-Clinic-Invitation"
URL_NAMES = {
    "survey": "survey_start",
    "confirm": "appointment_confirm",
    "reschedule": "appointment_reschedule_request",
    "unsubscribe": "unsubscribe",
}


def link(purpose: str, invitation_id: int) -> str:
    """The absolute URL of a patient link for `purpose` ("survey", "confirm", ...)."""
    token = make_token(purpose=purpose, invitation_id=invitation_id)
    return settings.SITE_URL + key_url(URL_NAMES[purpose], token)


def _language(patient) -> str:
    languages = dict(settings.LANGUAGES)
    return patient.preferred_language if patient.preferred_language in languages else "en"


def _render(template: str, context: dict) -> tuple[str, str, str]:
    subject = render_to_string(f"followup/email/{template}_subject.txt", context)
    text = render_to_string(f"followup/email/{template}.txt", context)
    html = render_to_string(f"followup/email/{template}.html", context)
    # Blank lines left by template tags, and any line break in the subject, go.
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return " ".join(subject.split()), text, html


def _day(value) -> dict:
    """Weekday, date and time in the active language and time zone.

    Patients get a written-out date ("30 November 2026"), not the staff pages' ISO date.
    """
    # Naive: aware datetimes of one instant in two zones are equal keys.
    return _day_words(translation.get_language(), timezone.localtime(value).replace(tzinfo=None))


# A dispatcher's batch writes the same few visit and closing times again and again.
@functools.lru_cache(maxsize=512)
def _day_words(language: str, local: datetime.datetime) -> Mapping:
    # Read-only: every email of the batch shares it.
    return MappingProxyType(
        {
            "weekday": formats.date_format(local, "l"),
            "date": formats.date_format(local, pgettext("date in a patient email", "j F Y")),
            "time": formats.time_format(local, "H:i"),
        }
    )


def _date_words(day) -> dict:
    """A calendar date as `_day` writes it, without a time."""
    return {
        "weekday": formats.date_format(day, "l"),
        "date": formats.date_format(day, pgettext("date in a patient email", "j F Y")),
    }


def _medication(appointment) -> list[dict]:
    """The blood-thinner plan in dates the patient reads (scheduling.advice); the drug is
    named in the body only, never in the subject. Uses `appointment.batch_medication_plan` when
    the dispatcher computed the plans for its batch."""
    if hasattr(appointment, "batch_medication_plan"):
        plan = appointment.batch_medication_plan
    else:
        plan = medication_plan(appointment)
    if plan is None:
        return []
    return [
        {
            "drug": step.drug,
            "decides": step.physician_decides,
            "held": step.is_held,
            "last": _date_words(step.last_dose) if step.is_held else None,
            "stop": _date_words(step.stop_from) if step.is_held else None,
            "restart": _date_words(step.restart) if step.is_held else None,
        }
        for step in plan.steps
    ]


def _common(invitation: Invitation, unsubscribe_url: str) -> dict:
    site = invitation.appointment.site
    return {
        "first_name": invitation.patient.first_name,
        "clinic_name": settings.CLINIC_NAME,
        "clinic_phone": site.phone or settings.CLINIC_PHONE,
        "emergency_phone": settings.FOLLOWUP_EMERGENCY_PHONE,
        "site_name": site.name,
        "unsubscribe_url": unsubscribe_url,
    }


def _reminder_context(invitation: Invitation, unsubscribe_url: str) -> dict:
    appointment = invitation.appointment
    baseline = selectors.open_baseline(appointment)
    return {
        **_common(invitation, unsubscribe_url),
        "starts": _day(appointment.starts_at),
        "site_address": ", ".join(
            line.strip() for line in appointment.site.address.splitlines() if line.strip()
        ),
        "preparation": selectors.preparation_for(
            appointment.procedure_type, _language(invitation.patient)
        ),
        "confirm_url": link("confirm", invitation.pk)
        if appointment.status == Status.BOOKED
        else "",
        "reschedule_url": link("reschedule", invitation.pk)
        if appointment.status in MOVABLE_STATUSES
        else "",
        "baseline_url": link("survey", baseline.pk) if baseline else "",
        "medication": _medication(appointment),
    }


def _survey_context(invitation: Invitation, unsubscribe_url: str) -> dict:
    return {
        **_common(invitation, unsubscribe_url),
        "is_baseline": invitation.kind == Invitation.Kind.BASELINE,
        "is_reminder": invitation.sends > 0,
        "visit": _day(invitation.appointment.starts_at),
        "closes": _day(invitation.expires_at) if invitation.expires_at else None,
        "survey_url": link("survey", invitation.pk),
    }


def survey_preview(step, *, language: str, site=None) -> dict:
    """The email a patient gets for care-plan `step`, for the manager's preview: the real
    templates in `language`, with a sample first name, sample dates and placeholder links
    (no token is made, nothing is sent or stored)."""
    now = timezone.now()
    zone = site.zone if site is not None else timezone.get_current_timezone()
    with translation.override(language), timezone.override(zone):
        due = step.due_after(now, zone)
        context = {
            "first_name": pgettext("sample first name in a preview", "Anna"),
            "clinic_name": settings.CLINIC_NAME,
            "clinic_phone": (site.phone if site is not None else "") or settings.CLINIC_PHONE,
            "emergency_phone": settings.FOLLOWUP_EMERGENCY_PHONE,
            "site_name": site.name if site is not None else settings.CLINIC_NAME,
            "unsubscribe_url": settings.SITE_URL + "/u/…/",
            "is_baseline": False,
            "is_reminder": False,
            "visit": _day(now),
            "closes": _day(step.expires_after(due)),
            "survey_url": settings.SITE_URL + "/s/…/",
        }
        subject, text, html = _render("survey", context)
    return {"subject": subject, "text": text, "html": html, "due": due}


def _ics_attachment(appointment) -> bytes | None:
    """The patient's .ics; a reminder without it beats no reminder, so problems only log."""
    try:
        from scheduling.calendars import appointment_ics
    except ImportError:
        logger.warning("scheduling.calendars is missing: reminder sent without an .ics file")
        return None
    try:
        return appointment_ics(appointment, for_patient=True)
    except Exception:
        logger.exception("Could not build the .ics of appointment %s", appointment.pk)
        return None


class _PlainHeaders(email.policy.Compat32):
    """Compat32, the policy of Django's messages, writing a header that needs no folding as
    it is: printable ASCII that fits on its line, which is what the email.header machinery
    returns for it after splitting and measuring it (about a seventh of the time an email
    took, for its twenty headers). Others are folded as before."""

    def _fold(self, name, value, sanitize):
        if (
            isinstance(value, str)
            and value.isascii()
            and value.isprintable()
            and self.max_line_length
            and len(name) + 2 + len(value) <= self.max_line_length
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


PLAIN_HEADERS = _PlainHeaders()


@functools.lru_cache(maxsize=1024)
def _subject_header(subject: str, encoding: str) -> str:
    """The Subject header as Django sets it: refused with a line break, encoded (RFC 2047)."""
    return forbid_multi_line_headers("Subject", subject, encoding)[1]


class _PatientEmail(EmailMultiAlternatives):
    """A patient email, cheaper to write out than Django's own, byte for byte the same but for
    its boundaries:

    - each multipart gets its boundary up front: left to the standard library, the boundary
      is checked against the whole text with a regular expression compiled anew for every
      email, a tenth of what building the message costs. 128 random bits do not occur in
      the text (RFC 2046 section 5.1.1 asks only that they do not);
    - its headers are written with PLAIN_HEADERS;
    - its Subject header is the one Django writes, remembered (_subject_header): Django
      encodes every subject anew through the standard library's Header class, a fifth of
      the calls of a send, and a batch has few distinct subjects.
    """

    def message(self):
        subject, self.subject = self.subject, ""  # Django's own encoding of it, replaced below
        try:
            message = super().message()
        finally:
            self.subject = subject
        encoding = self.encoding or settings.DEFAULT_CHARSET
        message.replace_header("Subject", _subject_header(str(subject), encoding))
        message.policy = PLAIN_HEADERS
        for part in message.walk():
            if part.get_content_maintype() == "multipart":
                part.set_boundary(f"=_{secrets.token_hex(16)}")
        return message


def invitation_message(invitation: Invitation) -> EmailMultiAlternatives:
    """The email for an invitation row's next send (reminder, survey, survey reminder).

    Needs `patient`, `appointment__site` and `appointment__procedure_type` loaded.
    """
    patient = invitation.patient
    appointment = invitation.appointment
    reminder = invitation.kind == Invitation.Kind.APPOINTMENT_REMINDER
    unsubscribe = link("unsubscribe", invitation.pk)
    ics = None
    with translation.override(_language(patient)), timezone.override(appointment.site.zone):
        if reminder:
            context = _reminder_context(invitation, unsubscribe)
            subject, text, html = _render("appointment_reminder", context)
            # The .ics speaks the email's language.
            ics = _ics_attachment(appointment)
        else:
            subject, text, html = _render("survey", _survey_context(invitation, unsubscribe))
    message = _PatientEmail(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[patient.email],
        headers={
            "Message-ID": invitation.message_id,
            INVITATION_HEADER: str(invitation.pk),
            # RFC 8058 one-click unsubscribe; RFC 3834 marks the mail as automatic.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(html, "text/html")
    if ics is not None:
        message.attach("appointment.ics", ics, "text/calendar")
    return message


def oncall_message(alerts: list, *, escalation: bool) -> EmailMessage:
    """To the on-call address: a patient's new (or still unacknowledged) alerts.

    Staff-facing, in English, plain text. It carries alert numbers, their kinds and a link
    that needs a login, never the patient's name, MRN, phone or answers: an on-call mailbox
    is often a shared list or a phone's lock screen.
    """
    first = alerts[0]
    context = {
        "alerts": alerts,
        "escalation": escalation,
        "escalate_minutes": settings.FOLLOWUP_ALERT_ESCALATE_MINUTES,
        "alerts_url": settings.SITE_URL + reverse("alert_list") + "?state=open",
        "clinic_name": settings.CLINIC_NAME,
    }
    with translation.override("en"):
        subject = render_to_string("followup/email/oncall_alert_subject.txt", context)
        body = render_to_string("followup/email/oncall_alert.txt", context)
    kind = "escalation" if escalation else "oncall"
    return EmailMessage(
        subject=" ".join(subject.split()),
        body=re.sub(r"\n{3,}", "\n\n", body).strip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[settings.CLINIC_ONCALL_EMAIL],
        headers={
            "Message-ID": f"<alert-{first.pk}-{kind}@{settings.FOLLOWUP_MESSAGE_ID_DOMAIN}>",
            "Auto-Submitted": "auto-generated",
        },
    )


def clinical_oncall_message(alert) -> EmailMessage:
    """To the on-call address: a clinical alert (NEWS2) nobody acknowledged in time.

    Staff-facing, in English, plain text. Unlike a follow-up alert it names no patient,
    not even in the body: an alert number, the score and a link to sign in and act.
    """
    context = {
        "alert": alert,
        "physician": alert.appointment.physician,
        "site": alert.appointment.site,
        "escalate_minutes": settings.CLINICAL_ALERT_ESCALATE_MINUTES,
        "alert_url": settings.SITE_URL + reverse("alert_acknowledge", args=[alert.pk]),
        "clinic_name": settings.CLINIC_NAME,
    }
    with translation.override("en"):
        subject = render_to_string("followup/email/clinical_alert_subject.txt", context)
        body = render_to_string("followup/email/clinical_alert.txt", context)
    return EmailMessage(
        subject=" ".join(subject.split()),
        body=re.sub(r"\n{3,}", "\n\n", body).strip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[settings.CLINIC_ONCALL_EMAIL],
        headers={
            "Message-ID": f"<alert-{alert.pk}-escalation@{settings.FOLLOWUP_MESSAGE_ID_DOMAIN}>",
            "Auto-Submitted": "auto-generated",
        },
    )


# --- One SMTP connection per worker process ---------------------------------------------
#
# Opened by the first email and kept for all that follow, so an email costs one SMTP
# transaction instead of connect, EHLO, (TLS, login,) QUIT. The worker closes it at
# shutdown (followup.tasks). A connection idle for a while is checked with NOOP before
# use; one idle for long is replaced unasked (a NAT or firewall may have dropped it without
# a word, and a NOOP would then hang until the timeout); one that failed is never reused.
CHECK_AFTER_IDLE = 5.0  # seconds
REPLACE_AFTER_IDLE = 60.0
_MAIL_SETTINGS = (
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "EMAIL_USE_SSL",
    "EMAIL_TIMEOUT",
)


class _Held(threading.local):
    backend = None  # a Django email backend, kept open
    settings: tuple = ()
    last_used = 0.0


_held = _Held()


def _drop() -> None:
    """Forget the SMTP connection without QUIT (after an error, or when it may be dead)."""
    smtp = getattr(_held.backend, "connection", None)
    if smtp is not None:
        with contextlib.suppress(OSError):
            smtp.close()
        _held.backend.connection = None


def connection_close() -> None:
    """Say QUIT and close this process's SMTP connection, if one is open."""
    if _held.backend is not None:
        try:
            _held.backend.close()
        except (smtplib.SMTPException, OSError):
            _drop()
    _held.backend = None


def _is_alive(smtp) -> bool:
    try:
        return smtp.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _backend():
    """This process's email backend, its connection (if any) fit for the next email."""
    current = tuple(getattr(settings, name, None) for name in _MAIL_SETTINGS)
    if _held.backend is not None and _held.settings != current:
        connection_close()  # the settings changed (tests do): connect anew
    if _held.backend is None:
        _held.backend, _held.settings = get_connection(fail_silently=False), current
    smtp = getattr(_held.backend, "connection", None)
    if smtp is not None:
        idle = time.monotonic() - _held.last_used
        if idle >= REPLACE_AFTER_IDLE or (idle >= CHECK_AFTER_IDLE and not _is_alive(smtp)):
            _drop()
    return _held.backend


def message_send(message: EmailMessage) -> None:
    """Send `message` over this process's connection; returns once the server said 250.

    A server that ends a session after some number of emails refuses the next one with
    421 at MAIL FROM, before any of it was sent: that email goes at once over a new
    connection. Any other failure is raised.
    """
    backend = _backend()
    for attempt in (1, 2):
        reused = getattr(backend, "connection", None) is not None
        try:
            backend.open()  # the SMTP backend connects here unless already connected
            backend.send_messages([message])
            return
        except smtplib.SMTPSenderRefused as exc:
            _drop()
            if attempt == 2 or not reused or exc.smtp_code != 421:
                raise
        except BaseException:
            _drop()
            raise
        finally:
            _held.last_used = time.monotonic()

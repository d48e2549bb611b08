"""The dispatcher: finds due work rows and hands their emails to workers, many a message.

Beat runs `dispatch_tick` every minute (task followup.dispatch). Work rows are
`Invitation`s; their life:

    scheduled --tick claims, due--> queued --worker claims--> sending --SMTP 250--> sent
    sent --a survey reminder is due--> queued --> sending --> sent (reminders_sent + 1)
    scheduled/sent --past expires_at--> expired          any open --answer--> answered
    unwanted when claimed or sent --> cancelled / skipped / expired  (EmailLog "skipped")
    transient failure --> scheduled again at retry_at (sent again at next_reminder_at for a
    survey reminder); permanent failure, or FOLLOWUP_SEND_MAX_ATTEMPTS --> failed

Exactly once: the claims.
1. Every claim is a conditional update on the row's own status. The tick's is scheduled
   (or sent, for a survey reminder) -> queued; the worker's is queued -> sending, so of two
   messages naming the same row (a redelivery after a lost worker, a republished message,
   two beats) exactly one worker sends; the other finds the row not queued and does
   nothing. The worker's claim also requires that nothing the send depends on (the
   patient's address and consent, the appointment's status and time, the row's send
   number) changed since the worker read the row, so a cancellation or an opt-out is
   respected up to the send. A sent row is queued again only for a new email (a survey
   reminder, a reminder for a new appointment time), and each email has its own send number.
2. The tick selects due rows with SELECT ... FOR UPDATE SKIP LOCKED, so two dispatchers at
   once take disjoint rows. SQLite has no row locks, but its IMMEDIATE transactions run
   one writer at a time, and (1) makes each claim conditional there too.
3. Messages carry only row ids (up to CHUNK_SIZE a message) and are published after the
   claim commits, in one go over one broker connection.

At least once: the send.
4. A worker keeps one SMTP connection open for all its emails (followup.emails) and records
   each send in the moment after the server's 250 to the end of the data, in one short
   transaction. An SMTP server takes responsibility for a message with that 250
   (RFC 5321 section 6.1), so a worker that dies before it leaves a row in `sending` whose
   email was not delivered; the stuck sweep (6) sends it. A worker that dies between the
   250 and the commit of the record (milliseconds) leaves the same, but the email did go:
   that is the one window for a second copy (RFC 1047), and the copy carries the same
   Message-ID as the first, which marks it as the same message to the receiving systems.
   A timeout while waiting for the 250 is handled as a transient failure and sent again,
   also with the same Message-ID.

Nothing lost.
5. A row queued but not taken by a worker after REPUBLISH_AFTER (its message lost with the
   broker, or still behind a long queue) is published again; a publish that fails puts the
   rows it claimed back, due, for the next tick. Neither sends twice, by (1).
6. The stuck sweep takes rows left `sending` for FOLLOWUP_STUCK_AFTER_MINUTES. That is
   longer than the send task's hard time limit (checked at start-up), so no live worker
   still holds them; see (4) for why they are sent again rather than marked failed.
7. A broker outage neither crashes the tick nor stops it: every publish is guarded, each
   step of the tick tries the broker once, the outage is logged in one line, and on-call
   alerts are emailed from the tick itself rather than wait for the broker.

On-call alert emails (`oncall_notify`) are at least once: the alert row stays locked
while its email is sent and is marked in the same transaction, so a worker killed
mid-send leaves it unmarked and the next tick emails on-call again. A second alert email
is better than none.
"""

import datetime
import logging
import math
import smtplib
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Prefetch, Q, prefetch_related_objects
from django.utils import timezone
from kombu.exceptions import OperationalError

from clinic.models import Patient
from followup import emails, selectors
from followup.models import Alert, EmailLog, Invitation
from scheduling.advice import medication_plans
from scheduling.models import Appointment, AppointmentEvent

logger = logging.getLogger(__name__)

S = Invitation.Status
SURVEY_KINDS = (Invitation.Kind.BASELINE, Invitation.Kind.SURVEY)
# A tick works through at most this many batches of each kind, so one tick stays short.
MAX_BATCHES = 20
# A message names at most CHUNK_SIZE rows; fewer rows are spread over up to SPREAD
# messages, so that every worker process gets a share even of a small tick.
CHUNK_SIZE = 25
SPREAD = 8
# A queued row no worker has taken after this long is published again (docstring, 5). With
# a tick every minute, a message lost with the broker is replaced within two minutes.
REPUBLISH_AFTER = datetime.timedelta(seconds=90)
# What a publish raises when the broker cannot be reached.
BROKER_ERRORS = (OperationalError, OSError)


# --- Handing rows to the workers -------------------------------------------------------


class BrokerUnavailable(Exception):
    """A publish failed; `ids` are the rows whose message did not go."""

    def __init__(self, ids: list[int], error: Exception):
        super().__init__(f"{type(error).__name__}: {error}")
        self.ids = ids


def chunks(ids: list[int]) -> list[list[int]]:
    """`ids` split into the messages that carry them (CHUNK_SIZE, SPREAD)."""
    size = min(CHUNK_SIZE, max(1, math.ceil(len(ids) / SPREAD)))
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _enqueue(ids: list[int]) -> None:
    """Publish send tasks for `ids` (committed, queued rows) over one broker connection.

    Raises BrokerUnavailable naming the rows left unpublished.
    """
    from followup.tasks import send_invitations

    published = 0
    try:
        with send_invitations.app.producer_or_acquire() as producer:
            for chunk in chunks(ids):
                send_invitations.apply_async(args=[chunk], producer=producer)
                published += len(chunk)
    except BROKER_ERRORS as exc:
        raise BrokerUnavailable(ids[published:], exc) from exc


class _Handover:
    """One tick's publishing: tries the broker once per step, remembers an outage."""

    def __init__(self):
        self.error: BrokerUnavailable | None = None
        self.held_back = 0
        self.oncall_here = False
        self._step_failed = False

    def step(self) -> None:
        """A new step of the tick: the broker gets another chance."""
        self._step_failed = False

    def publish(self, ids: list[int], *, put_back: str | None = None) -> bool:
        """Publish `ids`; True when all went.

        Rows left unpublished go back to `put_back` (due again at the next tick) when it
        is given; otherwise they stay queued, and are published again after REPUBLISH_AFTER.
        """
        if not ids:
            return True
        unpublished = ids
        if not self._step_failed:
            try:
                _enqueue(ids)
                return True
            except BrokerUnavailable as exc:
                self.error, self._step_failed, unpublished = exc, True, exc.ids
        self.held_back += len(unpublished)
        if put_back:
            Invitation.objects.filter(pk__in=unpublished, status=S.QUEUED).update(status=put_back)
        return False

    def report(self) -> None:
        if self.error is not None:
            logger.error(
                "Broker unreachable (%s): %d emails wait for the next tick%s.",
                self.error,
                self.held_back,
                "; on-call alerts were emailed from the tick itself" if self.oncall_here else "",
            )


# --- The tick --------------------------------------------------------------------------


def _log(invitation: Invitation, status: str, *, now, message_id="", error="", kind=None):
    EmailLog.objects.create(
        invitation=invitation,
        patient_id=invitation.patient_id,
        kind=kind or invitation.kind,
        to_address=invitation.patient.email,
        at=now,
        status=status,
        message_id=message_id,
        error=error,
    )


def _is_survey_reminder(invitation: Invitation) -> bool:
    return invitation.is_survey and invitation.sends > 0


def _refuse(invitation: Invitation, from_status: str, refusal: tuple[str, str], now) -> None:
    """Close a row that must not be emailed, saying why; its companions go with it."""
    status, reason = refusal
    rows = Invitation.objects.filter(pk=invitation.pk, status=from_status)
    if _is_survey_reminder(invitation) and status == S.SKIPPED:
        # The survey itself reached the patient: it stays answerable, reminders stop.
        changed = rows.update(status=S.SENT, next_reminder_at=None, last_error=reason)
    else:
        changed = rows.update(status=status, next_reminder_at=None, last_error=reason)
        invitation.companions.filter(status=S.SCHEDULED).update(status=status, last_error=reason)
    if changed:
        _log(invitation, EmailLog.Status.SKIPPED, now=now, error=reason)


def _claim(candidates, from_status: str, now) -> tuple[int, list[int]]:
    """Queue up to a batch of `candidates` (rows in `from_status`).

    Returns the rows examined and the ids queued; commits before returning.
    """
    with transaction.atomic():
        rows = list(
            candidates.select_for_update(skip_locked=True, of=("self",)).select_related(
                "patient", "appointment"
            )[: settings.FOLLOWUP_DISPATCH_BATCH_SIZE]
        )
        wanted = []
        for row in rows:
            refusal = row.send_refusal(now)
            if refusal:
                _refuse(row, from_status, refusal, now)
            else:
                wanted.append(row.pk)
        # The rows are locked: all of them are still in `from_status`.
        Invitation.objects.filter(pk__in=wanted, status=from_status).update(
            status=S.QUEUED, queued_at=now
        )
    return len(rows), wanted


def _claim_all(candidates, from_status: str, now, handover: _Handover) -> int:
    handover.step()
    examined = 0
    for _batch in range(MAX_BATCHES):
        count, queued = _claim(candidates, from_status, now)
        examined += count
        if not handover.publish(queued, put_back=from_status):
            break
        if count < settings.FOLLOWUP_DISPATCH_BATCH_SIZE:
            break
    return examined


def expire_overdue(now) -> int:
    """Close surveys nobody answered in time (and never-sent rows past their time)."""
    return Invitation.objects.filter(status__in=(S.SCHEDULED, S.SENT), expires_at__lte=now).update(
        status=S.EXPIRED, next_reminder_at=None
    )


def recover_stuck(now, handover: _Handover | None = None) -> int:
    """Queue again rows left `sending` by a worker that died (module docstring, 6)."""
    handover = handover or _Handover()
    handover.step()
    cutoff = now - datetime.timedelta(minutes=settings.FOLLOWUP_STUCK_AFTER_MINUTES)
    with transaction.atomic():
        stuck = Invitation.objects.filter(status=S.SENDING, sending_started_at__lt=cutoff)
        ids = list(
            stuck.select_for_update(skip_locked=True)
            .order_by("sending_started_at", "pk")
            .values_list("pk", flat=True)[: settings.FOLLOWUP_DISPATCH_BATCH_SIZE]
        )
        Invitation.objects.filter(pk__in=ids).update(
            status=S.QUEUED,
            queued_at=now,
            last_error="The worker stopped during the send; sending again.",
        )
    for pk in ids:
        logger.warning("Invitation %s was stuck while sending; sending it again", pk)
    handover.publish(ids)
    return len(ids)


def republish_waiting(now, handover: _Handover | None = None) -> int:
    """Publish again rows queued for longer than REPUBLISH_AFTER (module docstring, 5).

    A worker that is sending such a row has moved it to `sending`, so it is not touched.
    """
    handover = handover or _Handover()
    handover.step()
    with transaction.atomic():
        # Locked while published, so that two ticks at once publish each row once.
        ids = list(
            Invitation.objects.filter(status=S.QUEUED, queued_at__lte=now - REPUBLISH_AFTER)
            .select_for_update(skip_locked=True)
            .order_by("queued_at", "pk")
            .values_list("pk", flat=True)[: MAX_BATCHES * settings.FOLLOWUP_DISPATCH_BATCH_SIZE]
        )
        if ids and handover.publish(ids):
            Invitation.objects.filter(pk__in=ids).update(queued_at=now)
    return len(ids)


def _alerts_hand_over(now, handover: _Handover) -> int:
    """Have on-call emailed about pending alerts: by a worker, or here if the broker is down."""
    from followup.tasks import notify_oncall

    pending = _alerts_pending(now).count()
    if pending:
        try:
            notify_oncall.delay()
        except BROKER_ERRORS as exc:
            handover.error = handover.error or BrokerUnavailable([], exc)
            handover.oncall_here = True
            oncall_notify(now=now)
    return pending


def dispatch_tick(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """One run of the dispatcher: expire, recover, queue due sends and reminders, alerts.

    Runs outside any transaction: each batch's claim commits before its rows are published.
    """
    now = now or timezone.now()
    handover = _Handover()
    report = {
        "expired": expire_overdue(now),
        "recovered": recover_stuck(now, handover),
        "republished": republish_waiting(now, handover),
    }
    due = Invitation.objects.filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=now),
        status=S.SCHEDULED,
        due_at__lte=now,
        # A baseline travelling with the reminder goes out inside the reminder's email.
        sent_with__isnull=True,
    ).order_by("due_at", "pk")
    report["due"] = _claim_all(due, S.SCHEDULED, now, handover)
    reminders = Invitation.objects.filter(
        status=S.SENT, kind__in=SURVEY_KINDS, next_reminder_at__lte=now
    ).order_by("next_reminder_at", "pk")
    report["reminders"] = _claim_all(reminders, S.SENT, now, handover)
    report["alerts"] = _alerts_hand_over(now, handover)
    if handover.error is not None:
        report["held_back"] = handover.held_back
        handover.report()
    return report


# --- Sending ---------------------------------------------------------------------------


def _queued(ids: list[int]) -> list[Invitation]:
    """The queued rows among `ids`, with all their emails need (one query, five more
    for a batch holding appointment reminders)."""
    rows = list(
        Invitation.objects.filter(pk__in=ids, status=S.QUEUED)
        .select_related(
            "patient",
            "appointment__site",
            "appointment__procedure_type",
            "appointment__patient",
        )
        .order_by("pk")
    )
    reminders = [row for row in rows if row.kind == Invitation.Kind.APPOINTMENT_REMINDER]
    if reminders:
        from scheduling.calendars import SEQUENCE_KINDS

        prefetch_related_objects(
            reminders,
            Prefetch(
                "appointment__invitations",
                queryset=selectors.open_baselines(),
                to_attr="open_baselines",
            ),
            "appointment__procedure_type__preparation_instructions",
            Prefetch(
                "appointment__events",
                queryset=AppointmentEvent.objects.filter(kind__in=SEQUENCE_KINDS),
                to_attr="sequence_events",
            ),
            "appointment__patient__medications",
        )
        # The blood-thinner plans of the whole batch at once (the protocol table read once),
        # not per email.
        plans = medication_plans([row.appointment for row in reminders])
        for row in reminders:
            row.appointment.ics_sequence = len(row.appointment.sequence_events)
            row.appointment.batch_medication_plan = plans.get(row.appointment.pk)
    return rows


# The two statements of every send, written out once: they are the dispatcher's hot path,
# and the ORM would spend longer building them than the database takes to run them. Both
# run on PostgreSQL and SQLite.
_INVITATION = Invitation._meta.db_table
_CLAIM = f"""
    UPDATE {_INVITATION} SET status = %(c_sending)s, sending_started_at = %(c_now)s
    WHERE id = %(c_pk)s AND status = %(c_queued)s AND sends = %(c_sends)s AND {{expires}}
      AND EXISTS (
        SELECT 1 FROM {Patient._meta.db_table} p WHERE p.id = {_INVITATION}.patient_id
        AND p.email = %(c_email)s AND p.email_consent = %(c_consent)s)
      AND EXISTS (
        SELECT 1 FROM {Appointment._meta.db_table} a WHERE a.id = {_INVITATION}.appointment_id
        AND a.status = %(c_appointment_status)s AND a.starts_at = %(c_starts_at)s)
"""
_CLAIM_SQL = {
    True: _CLAIM.format(expires="expires_at IS NULL"),
    False: _CLAIM.format(expires="expires_at = %(c_expires_at)s"),
}
# The row and the companions it carried (module docstring of _sent), then the log. The
# CASEs read the values from before the update: `status = sending` is "this very send".
_RECORD_SQL = f"""
    UPDATE {_INVITATION} SET
      sends = sends + 1,
      status = CASE WHEN id = %(pk)s AND status <> %(sending)s THEN status ELSE %(sent)s END,
      send_attempts = CASE WHEN id = %(pk)s AND status = %(sending)s THEN 0
                      ELSE send_attempts END,
      retry_at = CASE WHEN id = %(pk)s AND status = %(sending)s THEN NULL ELSE retry_at END,
      sending_started_at = CASE WHEN id = %(pk)s AND status = %(sending)s THEN NULL
                           ELSE sending_started_at END,
      last_error = CASE WHEN id = %(pk)s AND status = %(sending)s THEN '' ELSE last_error END,
      reminders_sent = CASE WHEN id = %(pk)s AND status = %(sending)s
                       THEN reminders_sent + %(survey_reminder)s ELSE reminders_sent END,
      next_reminder_at = CASE
        WHEN id = %(pk)s AND status = %(sending)s AND %(is_survey)s THEN %(next_reminder_at)s
        WHEN id = %(pk)s THEN next_reminder_at
        WHEN expires_at <= %(first_reminder)s THEN NULL
        ELSE %(first_reminder)s END,
      sent_at = CASE
        WHEN id = %(pk)s AND (status <> %(sending)s OR %(survey_reminder)s = 1) THEN sent_at
        ELSE %(now)s END
    WHERE id = %(pk)s OR (sent_with_id = %(pk)s AND status = %(scheduled)s)
"""
_LOG_SQL = f"""
    INSERT INTO {EmailLog._meta.db_table}
      (invitation_id, patient_id, kind, to_address, at, status, message_id, error)
    VALUES (%(pk)s, %(patient)s, %(kind)s, %(to_address)s, %(now)s, %(logged)s,
            %(message_id)s, '')
"""


def _send_claim(invitation: Invitation, now) -> tuple[str, dict]:
    """The claim of `invitation`: queued -> sending, if nothing the email depends on (the
    patient's address and consent, the appointment's status and time, the row's send
    number and closing time) changed since it was read.

    The conditions on the patient and the appointment are EXISTS subqueries, so the status
    condition stays on the row itself, where PostgreSQL checks it again after waiting for
    a concurrent claim.
    """
    patient, appointment = invitation.patient, invitation.appointment
    when = connection.ops.adapt_datetimefield_value
    return _CLAIM_SQL[invitation.expires_at is None], {
        "c_pk": invitation.pk,
        "c_now": when(now),
        "c_queued": S.QUEUED,
        "c_sending": S.SENDING,
        "c_sends": invitation.sends,
        "c_expires_at": when(invitation.expires_at),
        "c_email": patient.email,
        "c_consent": patient.email_consent,
        "c_appointment_status": appointment.status,
        "c_starts_at": when(appointment.starts_at),
    }


def _claim_for_send(invitation: Invitation, now) -> bool:
    statement, params = _send_claim(invitation, now)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount == 1


def _next_reminder(invitation: Invitation, now, reminders_sent: int):
    if not invitation.is_survey or reminders_sent >= settings.FOLLOWUP_SURVEY_MAX_REMINDERS:
        return None
    at = now + datetime.timedelta(days=settings.FOLLOWUP_SURVEY_REMINDER_DAYS)
    if invitation.expires_at is not None and at >= invitation.expires_at:
        return None
    return at


def _is_permanent(exc: Exception) -> bool:
    """A refusal that sending again will not change: a 5xx reply or a malformed address."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _message in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, ValueError)


def _sent(invitation: Invitation, message_id: str, now, *, claim=None) -> bool | None:
    """Record an email the server accepted: the row, the baseline it carried, the log.

    The row turns `sent` only if it is still `sending`; answered or cancelled while the
    email was on its way, it went all the same, so only its send count grows. Companions
    (a baseline survey inside an appointment reminder) turn `sent` with it.

    On PostgreSQL the record is one statement (the UPDATE and the INSERT in a WITH clause),
    atomic on its own: one round trip, not BEGIN, UPDATE, INSERT and COMMIT, so the window
    between the server's 250 and the commit stays as short as it can be. The same statement
    claims `claim`, the batch's next row, when given: a send then costs one round trip.
    Returns whether `claim` was claimed (None without one).
    """
    reminder = _is_survey_reminder(invitation)
    first_reminder = None
    if settings.FOLLOWUP_SURVEY_MAX_REMINDERS > 0:
        first_reminder = now + datetime.timedelta(days=settings.FOLLOWUP_SURVEY_REMINDER_DAYS)
    when = connection.ops.adapt_datetimefield_value
    params = {
        "pk": invitation.pk,
        "now": when(now),
        "sending": S.SENDING,
        "sent": S.SENT,
        "scheduled": S.SCHEDULED,
        "is_survey": invitation.is_survey,
        "survey_reminder": int(reminder),
        "next_reminder_at": when(
            _next_reminder(invitation, now, invitation.reminders_sent + reminder)
        ),
        # A companion is a baseline survey: its first reminder, as _next_reminder sets it.
        "first_reminder": when(first_reminder),
        "patient": invitation.patient_id,
        "kind": "survey_reminder" if reminder else invitation.kind,
        "to_address": invitation.patient.email,
        "logged": EmailLog.Status.SENT,
        "message_id": message_id,
    }
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and claim is None:
            cursor.execute(f"WITH recorded AS ({_RECORD_SQL}) {_LOG_SQL}", params)
            return None
        if connection.vendor == "postgresql":
            statement, claim_params = _send_claim(claim, now)
            cursor.execute(
                f"WITH recorded AS ({_RECORD_SQL}), logged AS ({_LOG_SQL}) {statement}",
                {**params, **claim_params},
            )
            return cursor.rowcount == 1
        with transaction.atomic():
            cursor.execute(_RECORD_SQL, params)
            cursor.execute(_LOG_SQL, params)
    return None if claim is None else _claim_for_send(claim, now)


def _failed(invitation: Invitation, exc: Exception, now) -> str:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    attempts = invitation.send_attempts + 1
    give_up = _is_permanent(exc) or attempts >= settings.FOLLOWUP_SEND_MAX_ATTEMPTS
    retry_at = now + datetime.timedelta(
        minutes=settings.FOLLOWUP_SEND_RETRY_MINUTES * 2 ** (attempts - 1)
    )
    rows = Invitation.objects.filter(pk=invitation.pk, status=S.SENDING)
    common = {"last_error": error, "sending_started_at": None}
    with transaction.atomic():
        if _is_survey_reminder(invitation):
            # The survey reached the patient before; only this reminder failed.
            rows.update(
                status=S.SENT,
                send_attempts=0 if give_up else attempts,
                next_reminder_at=None if give_up else retry_at,
                **common,
            )
        elif give_up:
            rows.update(status=S.FAILED, send_attempts=0, retry_at=None, **common)
            invitation.companions.filter(status=S.SCHEDULED).update(
                status=S.FAILED, last_error=error
            )
        else:
            rows.update(status=S.SCHEDULED, send_attempts=attempts, retry_at=retry_at, **common)
        _log(invitation, EmailLog.Status.FAILED, now=now, error=error)
    return "failed" if give_up else "retry"


def _send_one(invitation: Invitation, now, *, claimed=None, following=None):
    """Send one row's email; returns the outcome and whether `following` got claimed.

    `claimed` says whether the row was claimed with the previous row's record (True), tried
    there and not claimed (False), or not tried yet (None). `following`, the batch's next
    row, is claimed with this row's record.
    """
    given = now is not None
    now = now or timezone.now()
    if claimed is None:
        claimed = _claim_for_send(invitation, now)
    if not claimed:
        # Taken by another worker, or changed since it was read: read it again.
        fresh = _queued([invitation.pk])
        if not fresh or not _claim_for_send(fresh[0], now):
            return "not queued", None
        invitation = fresh[0]
    refusal = invitation.send_refusal(now)
    if refusal:
        _refuse(invitation, S.SENDING, refusal, now)
        return "skipped", None
    message_id = invitation.message_id
    try:
        emails.message_send(emails.invitation_message(invitation))
    except Exception as exc:
        logger.warning("Sending invitation %s failed: %s", invitation.pk, exc)
        return _failed(invitation, exc, now if given else timezone.now()), None
    # Recorded at once: the server's 250 is in, and nothing else comes before the commit.
    return "sent", _sent(invitation, message_id, now if given else timezone.now(), claim=following)


def invitations_send(*, invitation_ids: list[int], now=None) -> dict[int, str]:
    """Send the emails of the queued rows among `invitation_ids`, one after the other.

    Each row is claimed right before its email, so a row that is not queued (sent, taken by
    another worker, answered) is left alone. Returns what happened to each id: "not queued",
    "skipped", "sent", "retry", "failed", or "handed back" when the batch ran out of time
    (half the task's time limit) and the rest was published again for another worker.
    """
    started = time.monotonic()

    def in_time() -> bool:
        return time.monotonic() - started <= settings.FOLLOWUP_SEND_TIME_LIMIT / 2

    outcomes = dict.fromkeys(invitation_ids, "not queued")
    rows = _queued(invitation_ids)
    claimed = None
    for index, row in enumerate(rows):
        if claimed is None and not in_time():
            rest = [later.pk for later in rows[index:]]
            try:
                _enqueue(rest)
            except BrokerUnavailable as exc:
                logger.warning("Could not hand back %d invitations (%s)", len(exc.ids), exc)
            outcomes.update(dict.fromkeys(rest, "handed back"))
            break
        following = rows[index + 1] if index + 1 < len(rows) and in_time() else None
        outcomes[row.pk], claimed = _send_one(row, now, claimed=claimed, following=following)
    return outcomes


def invitation_send(*, invitation_id: int, now: datetime.datetime | None = None) -> str:
    """Send one queued invitation's email; does nothing unless this call claims the row."""
    return invitations_send(invitation_ids=[invitation_id], now=now)[invitation_id]


# --- On-call alert emails --------------------------------------------------------------


def _alerts_pending(now):
    """Unacknowledged alerts whose first email, or escalation, is due.

    The escalation counts from the first email, not from the alert: when that email went
    out late (SMTP down, no worker), on-call still gets the full time to act before being
    told nobody did, instead of both emails in the same minute.

    A clinical alert (NEWS2) is the physician's first, on their pages; on-call gets one
    email, the escalation, when nobody acknowledged it CLINICAL_ALERT_ESCALATE_MINUTES
    after it was raised.
    """
    escalate_before = now - datetime.timedelta(minutes=settings.FOLLOWUP_ALERT_ESCALATE_MINUTES)
    clinical_before = now - datetime.timedelta(minutes=settings.CLINICAL_ALERT_ESCALATE_MINUTES)
    clinical = Q(kind__in=Alert.CLINICAL_KINDS)
    return Alert.objects.filter(acknowledged_at__isnull=True).filter(
        (
            ~clinical
            & (
                Q(oncall_emailed_at__isnull=True)
                | Q(escalated_at__isnull=True, oncall_emailed_at__lte=escalate_before)
            )
        )
        | (clinical & Q(escalated_at__isnull=True, created_at__lte=clinical_before))
    )


class _SendFailed(Exception):
    """Rolls back an on-call claim whose email could not be sent."""


def _notify_one(now) -> bool:
    """Email on-call about one response's pending alerts, or one clinical alert; False when
    none is left."""
    with transaction.atomic():
        pending = _alerts_pending(now).select_for_update(skip_locked=True, of=("self",))
        first = pending.order_by("created_at", "pk").first()
        if first is None:
            return False
        if first.is_clinical:
            # Never emailed before: this is the escalation, and no patient data travels.
            escalation, group = True, [first]
            message = emails.clinical_oncall_message(first)
            marked = {"oncall_emailed_at": now, "escalated_at": now}
        else:
            escalation = first.oncall_emailed_at is not None
            group = list(
                pending.filter(
                    response_id=first.response_id, oncall_emailed_at__isnull=not escalation
                )
                .select_related("patient")
                .order_by("kind")
            )
            message = emails.oncall_message(group, escalation=escalation)
            marked = {"escalated_at": now} if escalation else {"oncall_emailed_at": now}
        try:
            emails.message_send(message)
        except Exception as exc:
            raise _SendFailed(f"{type(exc).__name__}: {exc}", first) from exc
        Alert.objects.filter(pk__in=[alert.pk for alert in group]).update(**marked)
        EmailLog.objects.create(
            patient_id=first.patient_id,
            kind="oncall_escalation" if escalation else "oncall_alert",
            to_address=settings.CLINIC_ONCALL_EMAIL,
            at=now,
            status=EmailLog.Status.SENT,
            message_id=message.extra_headers["Message-ID"],
        )
    return True


def oncall_notify(*, now: datetime.datetime | None = None) -> int:
    """Email on-call about new alerts and escalate unacknowledged ones; returns emails sent.

    Stops at the first failure (logged in EmailLog); the next tick tries again.
    """
    now = now or timezone.now()
    sent = 0
    try:
        while _notify_one(now):
            sent += 1
    except _SendFailed as failure:
        error, alert = failure.args
        logger.warning("On-call email for alert %s failed: %s", alert.pk, error)
        EmailLog.objects.create(
            patient_id=alert.patient_id,
            kind="oncall_alert",
            to_address=settings.CLINIC_ONCALL_EMAIL,
            at=now,
            status=EmailLog.Status.FAILED,
            error=error,
        )
    return sent

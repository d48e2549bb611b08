"""Writes of scheduling: book, reschedule, change status, check in and undo it, cancel,
mark no-show.

Every write checks the booking rules, lets the database have the last word (exclusion
constraints on PostgreSQL, an IMMEDIATE transaction on SQLite), records an
AppointmentEvent and sends `appointment_changed` for the follow-up engine. A booking or
reschedule that loses a race to a concurrent one is tried again in a fresh transaction
(`write_retrying`).
"""

import datetime
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TypeVar

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from clinic.audit import audit_record
from clinic.models import AuditEvent, Room
from clinic.refusals import Reason, Refused
from clinic.services import patient_create
from scheduling import pathway, rules
from scheduling.dates import OUT_OF_RANGE, in_range
from scheduling.models import (
    CHECK_IN_FROM,
    MOVABLE_STATUSES,
    Appointment,
    AppointmentEvent,
    CancelReason,
    Laterality,
    PathwayOverride,
    Status,
)
from scheduling.signals import appointment_changed

CONSTRAINT_MESSAGES = {
    "appointment_room_no_overlap": "The room was just booked by someone else for this time.",
    "appointment_physician_no_overlap": "The physician was just booked by someone else then.",
    "appointment_patient_no_overlap": "The patient was just booked by someone else for this time.",
    "appointment_recovery_bay_no_overlap": "The recovery bay was just taken by another booking.",
}


class BookingRefused(Refused):
    """A booking or reschedule that breaks a rule; `reasons` say which and why, and
    `alternatives` are a few free slots."""

    def __init__(self, reasons: list[Reason]):
        super().__init__(reasons, detail="Refused: " + " ".join(r.message for r in reasons))


class PathwayWarned(Refused):
    """Pathway rules warn about this booking (scheduling.pathway); it goes ahead only with a
    reason, which is stored. Each reason's `stop` is the rule's code."""

    code = "pathway_warning"

    def __init__(self, warnings):
        self.warnings = warnings
        super().__init__(
            [
                Reason(
                    "pathway_" + w.code.replace("-", "_"),
                    f"{w.rule}: {w.reason}",
                    stop=w.code,
                    overridable=True,
                )
                for w in warnings
            ],
            detail="Pathway rules warn about this booking: give a reason to book anyway.",
        )


class RaceLost(BookingRefused):
    """A concurrent write won a race this one lost; the same write in a fresh transaction
    may well succeed (see `write_retrying`). Refused as it stands if it keeps losing."""


class TransitionRefused(Refused):
    """A status change that the lifecycle or a safety rule does not allow."""

    code = "transition_refused"


@dataclass(frozen=True)
class Overrides:
    """Reasons a physician gives to let a status change pass a safety rule.

    `per_stop` maps each stop a guard's refusal names (Reason.stop) to its own reason, so a
    reason for one stop never waives another; `general` is one reason without a stop, which a
    guard applies only where it cannot mean more than one stop.
    """

    general: str = ""
    per_stop: Mapping[str, str] = field(default_factory=dict)

    def for_stop(self, stop: str) -> str:
        return str(self.per_stop.get(stop) or "").strip()

    def __bool__(self) -> bool:
        return bool(self.general.strip() or any(self.for_stop(s) for s in self.per_stop))

    def describe(self) -> str:
        """For the appointment's history."""
        parts = [f"Override: {self.general.strip()}"] if self.general.strip() else []
        parts += [f"Override of {s}: {self.for_stop(s)}" for s in self.per_stop if self.for_stop(s)]
        return " ".join(parts)


# Guards run before a status change to the key status, in its transaction; they raise
# TransitionRefused. Signature: guard(appointment, actor, overrides: Overrides) -> None.
TransitionGuard = Callable[[Appointment, object, Overrides], None]
TRANSITION_GUARDS: dict[str, list[TransitionGuard]] = {}


def register_transition_guard(status: str):
    def decorator(guard: TransitionGuard) -> TransitionGuard:
        TRANSITION_GUARDS.setdefault(status, []).append(guard)
        return guard

    return decorator


# The key of the guards run before a check-in is undone: a later layer (the nursing record)
# may refuse the undo once the patient has gone further than arriving.
UNDO_CHECK_IN = "undo_check_in"


@register_transition_guard(Status.CHECKED_IN)
def check_in_on_the_day(appointment, actor, override_reason) -> None:
    """A patient is checked in on the appointment's day (site-local), never days ahead:
    a check-in takes the appointment off the reschedule list and opens the nursing day."""
    refusal = rules.check_in_day_refusal(appointment)
    if refusal is not None:
        raise TransitionRefused(refusal)


def constraint_refusal(exc: IntegrityError, *, bay_chosen=False) -> BookingRefused:
    """The refusal for a broken no-overlap constraint; a bay we chose ourselves that was
    taken meanwhile is a lost race, worth another try with another bay."""
    cause = exc.__cause__
    name = getattr(getattr(cause, "diag", None), "constraint_name", "") or ""
    message = CONSTRAINT_MESSAGES.get(name)
    if message is None:
        raise exc
    reasons = [Reason(name, message + " Please choose another time.")]
    if bay_chosen and name == "appointment_recovery_bay_no_overlap":
        return RaceLost(reasons)
    return BookingRefused(reasons)


# PostgreSQL's deadlock_detected and serialization_failure: it rolled this transaction
# back so that another could go on.
RETRYABLE_SQLSTATES = {"40P01", "40001"}
BUSY = Reason("busy", "The schedule is busy, please try again.")
WRITE_ATTEMPTS = 4
# The random pause before attempt n+1 is at most BACKOFF_SECONDS * 2**(n-1).
BACKOFF_SECONDS = 0.05

T = TypeVar("T")


def write_retrying(write: Callable[[], T], *, bay_chosen=False) -> T:
    """Run `write` in a transaction; when it loses a race, run it again in a fresh one.

    Concurrent writes pass the rules together (none sees the others' uncommitted rows) and
    meet in the no-overlap exclusion constraints. Two that insert rows conflicting with
    each other (one physician or patient in two rooms at once) wait on each other until
    PostgreSQL ends one with a deadlock error; under a stricter isolation it would end
    one with a serialization failure. Both mean "try again": the fresh transaction sees
    the winner and refuses with the usual reasons, or books. So does a recovery bay this
    write chose (`bay_chosen`) that another booking took between our read and our insert.
    Attempts are spread out by a random, growing pause; after WRITE_ATTEMPTS the clerk is
    told the schedule is busy (a 409, never a 500).

    Inside a caller's transaction there is one attempt, in a savepoint: only the caller
    can start a fresh transaction, so the RaceLost goes up to it (see waitlist_entry_book).
    """
    attempts = 1 if connection.in_atomic_block else WRITE_ATTEMPTS
    for attempt in range(1, attempts):
        try:
            return _write_once(write, bay_chosen=bay_chosen)
        except RaceLost:
            time.sleep(random.uniform(0, BACKOFF_SECONDS * 2 ** (attempt - 1)))
    return _write_once(write, bay_chosen=bay_chosen)


def _write_once(write: Callable[[], T], *, bay_chosen) -> T:
    try:
        with transaction.atomic():
            return write()
    except IntegrityError as exc:
        raise constraint_refusal(exc, bay_chosen=bay_chosen) from exc
    except DatabaseError as exc:
        if getattr(exc.__cause__, "sqlstate", None) not in RETRYABLE_SQLSTATES:
            raise
        raise RaceLost([BUSY]) from exc


def room_hold(room) -> None:
    """Queue the writes into one procedure room behind each other until this one commits.

    Concurrent bookings of a room's slot all pass the rules and would insert together into
    appointment_room_no_overlap, each waiting for the others' outcome: a pile of deadlocks,
    each found only after deadlock_timeout (a second). Holding the room's row lock from
    after the rules to the commit, they insert one at a time, and each after the winner
    fails at once on the constraint ("The room was just booked"). Taken before the
    recovery bay, in the same order by every write, so these locks do not deadlock.
    """
    Room.objects.select_for_update(no_key=True).filter(pk=room.pk).values_list("pk").get()


def recovery_bay_claim(site, windows, *, exclude_pk=None, preferred=None):
    """A free recovery bay for `windows`, locked until this transaction ends; else None.

    Read naively, concurrent bookings all find the same first free bay and all but one
    fail on appointment_recovery_bay_no_overlap. Instead each locks the first free bay that
    no other booking has locked (FOR NO KEY UPDATE SKIP LOCKED), so twenty bookings at
    once take twenty different bays. When every free bay is locked, it waits for the first
    (its holder may yet fail). Waiting here cannot deadlock: a write takes one bay lock,
    before it inserts or updates. A bay read free but taken by a booking that committed
    just then fails the constraint; `write_retrying` then tries again, seeing it taken.
    NO KEY: an appointment's foreign key to the bay (KEY SHARE) is not blocked.
    """
    free = rules.free_recovery_bays(site, windows, exclude_pk=exclude_pk)
    if preferred is not None:
        return free.filter(pk=preferred.pk).select_for_update(no_key=True).first()
    return (
        free.select_for_update(no_key=True, skip_locked=True).first()
        or free.select_for_update(no_key=True).first()
    )


def alternatives_for(*, procedure_type, physician, patient, site, after):
    """A few next free slots to offer alongside a refusal."""
    from scheduling.slots import find_slots

    return find_slots(
        procedure_type=procedure_type,
        site=site,
        physician=physician,
        patient=patient,
        date_from=timezone.localtime(after, site.zone).date(),
        limit=5,
    )


def _record(appointment, *, actor, kind, detail="", from_status="", to_status=""):
    AppointmentEvent.objects.create(
        appointment=appointment,
        user=actor,
        kind=kind,
        detail=detail,
        from_status=from_status,
        to_status=to_status,
    )


def _record_history(appointment, *, actor):
    """Conditional updates skip simple-history's save hook: add the changed version here."""
    Appointment.history.bulk_history_create([appointment], update=True, default_user=actor)


def pathway_override_record(appointment, *, actor, warnings, reason: str) -> None:
    """Store why the booking went ahead although pathway rules warned, one row per rule."""
    PathwayOverride.objects.bulk_create(
        PathwayOverride(
            appointment=appointment,
            rule_id=w.rule_id,
            rule_code=w.code,
            warning=f"{w.rule}: {w.reason}",
            evidence=[item for item in w.as_dict()["evidence"]],
            reason=reason,
            by=actor,
        )
        for w in warnings
    )
    _record(
        appointment,
        actor=actor,
        kind=AppointmentEvent.Kind.OVERRIDE,
        detail=f"Booked despite pathway warnings ({', '.join(w.code for w in warnings)}): {reason}",
    )


def _record_override(appointment, *, actor, minutes):
    """Keep a duration override in the history: it departs from the catalogue's times."""
    standard = appointment.procedure_type.room_minutes
    if minutes and minutes != standard:
        _record(
            appointment,
            actor=actor,
            kind=AppointmentEvent.Kind.OVERRIDE,
            detail=f"Room time set to {minutes} min instead of the standard {standard} min.",
        )


def appointment_book(
    *,
    actor,
    patient,
    procedure_type,
    physician,
    room,
    starts_at: datetime.datetime,
    recovery_bay=None,
    laterality: str = Laterality.NOT_APPLICABLE,
    levels: str = "",
    notes: str = "",
    room_minutes: int | None = None,
    status: str = Status.BOOKED,
    now: datetime.datetime | None = None,
    offer_alternatives: bool = True,
    indication=None,
    pathway_reason: str = "",
) -> Appointment:
    """Book a procedure, or raise BookingRefused with every reason and a few alternatives.

    Pathway rules that warn raise PathwayWarned unless `pathway_reason` says why to book
    anyway; the reason is then stored with each warning (PathwayOverride).
    """
    refuse_far_off(starts_at)
    windows = rules.windows_for(procedure_type, starts_at, room_minutes)
    levels = rules.normalise_levels(levels)
    if indication is not None and indication.patient_id != patient.pk:
        raise BookingRefused(
            [Reason("indication_other_patient", "The indication is another patient's.")]
        )
    pathway_reason = (pathway_reason or "").strip()
    warnings = pathway.pathway_warnings(
        patient=patient,
        procedure_type=procedure_type,
        starts_at=starts_at,
        levels=levels,
        laterality=laterality,
        indication=indication,
    )

    def book() -> Appointment:
        refusals = rules.check_booking(
            patient=patient,
            procedure_type=procedure_type,
            physician=physician,
            room=room,
            windows=windows,
            laterality=laterality,
            levels=levels,
            now=now,
        )
        # A booking the rules refuse says so first: a reason for a warning would not help.
        if warnings and not pathway_reason and not refusals:
            raise PathwayWarned(warnings)
        bay = None
        if not refusals:
            room_hold(room)
            bay = recovery_bay_claim(room.site, windows, preferred=recovery_bay)
            if bay is None:
                refusals.append(no_bay_refusal(room.site, windows))
        if refusals:
            raise BookingRefused(refusals)
        appointment = Appointment.objects.create(
            patient=patient,
            procedure_type=procedure_type,
            physician=physician,
            site=room.site,
            room=room,
            recovery_bay=bay,
            **asdict(windows),
            laterality=laterality,
            levels=levels,
            notes=notes,
            indication=indication,
            status=status,
            created_by=actor,
            updated_by=actor,
        )
        _record(
            appointment,
            actor=actor,
            kind=AppointmentEvent.Kind.BOOKED,
            to_status=status,
            detail=(
                f"{procedure_type.name}, {rules.day_and_time(starts_at, room.site)}, {room.name}"
            ),
        )
        _record_override(appointment, actor=actor, minutes=room_minutes)
        if warnings:
            pathway_override_record(
                appointment, actor=actor, warnings=warnings, reason=pathway_reason
            )
        appointment_changed.send(Appointment, appointment=appointment, change="booked")
        return appointment

    try:
        return write_retrying(book, bay_chosen=recovery_bay is None)
    except BookingRefused as exc:
        refused = exc
    # Busy: the same slot, tried again, is the best alternative.
    if offer_alternatives and refused.reasons != [BUSY]:
        refused.alternatives = alternatives_for(
            procedure_type=procedure_type,
            physician=physician,
            patient=patient,
            site=room.site,
            after=max(starts_at, now or timezone.now()),
        )
    raise refused


def refuse_far_off(starts_at: datetime.datetime) -> None:
    """Refuse a start outside the accepted years before any arithmetic overflows on it."""
    if not in_range(starts_at.date()):
        raise BookingRefused([Reason("date_out_of_range", OUT_OF_RANGE)])


def no_bay_refusal(site, windows) -> Reason:
    return Reason(
        "recovery_full",
        f"No recovery bay at {site} is free from {rules.hhmm(windows.recovery_starts_at, site)} "
        f"to {rules.hhmm(windows.recovery_ends_at, site)}.",
    )


def appointment_book_new_patient(*, request, patient, **booking) -> Appointment:
    """Register `patient` (validated, unsaved) and book for them (see `appointment_book`):
    both or neither, so a refused booking leaves no half-registered patient behind."""
    try:
        with transaction.atomic():
            patient_create(request=request, patient=patient)
            return appointment_book(patient=patient, **booking)
    except Exception:
        patient.pk = patient.id = None  # rolled back: the page may show the form again
        raise


def appointment_reschedule(
    *,
    actor,
    appointment: Appointment,
    starts_at: datetime.datetime,
    room=None,
    physician=None,
    room_minutes: int | None = None,
    now: datetime.datetime | None = None,
) -> Appointment:
    """Move an appointment (and, through the signal, what hangs off it) to a new time."""
    room = room or appointment.room
    physician = physician or appointment.physician
    minutes = room_minutes or int(
        (appointment.ends_at - appointment.starts_at).total_seconds() // 60
    )
    refuse_far_off(starts_at)
    windows = rules.windows_for(appointment.procedure_type, starts_at, minutes)

    def reschedule() -> Appointment:
        current = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if current.status not in MOVABLE_STATUSES:
            raise BookingRefused(
                [
                    Reason(
                        "not_movable",
                        f"A {current.get_status_display().lower()} appointment "
                        "cannot be rescheduled.",
                    )
                ]
            )
        refusals = rules.check_booking(
            patient=current.patient,
            procedure_type=current.procedure_type,
            physician=physician,
            room=room,
            windows=windows,
            laterality=current.laterality,
            levels=current.levels,
            exclude_pk=current.pk,
            now=now,
        )
        bay = None
        if not refusals:
            room_hold(room)
            bay = recovery_bay_claim(room.site, windows, exclude_pk=current.pk)
            if bay is None:
                refusals.append(no_bay_refusal(room.site, windows))
        if refusals:
            raise BookingRefused(refusals)
        before = rules.day_and_time(current.starts_at, current.site)
        Appointment.objects.filter(pk=current.pk).update(
            **asdict(windows),
            room=room,
            site=room.site,
            physician=physician,
            recovery_bay=bay,
            updated_by=actor,
            updated_at=timezone.now(),
        )
        current.refresh_from_db()
        _record_history(current, actor=actor)
        _record(
            current,
            actor=actor,
            kind=AppointmentEvent.Kind.RESCHEDULED,
            detail=f"{before} → {rules.day_and_time(current.starts_at, current.site)}, "
            f"{room.name}, {rules.physician_name(physician)}",
        )
        _record_override(current, actor=actor, minutes=room_minutes)
        appointment_changed.send(Appointment, appointment=current, change="rescheduled")
        return current

    try:
        return write_retrying(reschedule, bay_chosen=True)
    except BookingRefused as exc:
        refused = exc
    if refused.reasons == [BUSY]:
        raise refused
    refused.alternatives = alternatives_for(
        procedure_type=appointment.procedure_type,
        physician=physician,
        patient=appointment.patient,
        site=room.site,
        after=max(starts_at, now or timezone.now()),
    )
    raise refused


def appointment_transition(
    *,
    actor,
    appointment: Appointment,
    to: str,
    override_reason: str = "",
    overrides: Mapping[str, str] | None = None,
    detail: str = "",
    extra_fields: dict | None = None,
) -> Appointment:
    """Move to `to` if the lifecycle allows it from the current status and no guard objects.

    `override_reason` and `overrides` (a reason per stop) go to the guards as Overrides.
    The update is conditional on the status read, so two clerks clicking at once cannot
    both succeed; guards run in the same transaction, so what they record (an override)
    stays only if the status changes.
    """
    current_status = appointment.status
    if to not in {s for s in Status.values} or not appointment.can_move_to(to):
        raise TransitionRefused(
            f"An appointment that is {appointment.get_status_display().lower()} cannot become "
            f"{Status(to).label.lower() if to in Status.values else to}.",
            code="illegal_transition",
        )
    given = Overrides(general=override_reason or "", per_stop=dict(overrides or {}))
    now = timezone.now()
    extra_fields = dict(extra_fields or {})
    if to == Status.CHECKED_IN:
        # Kept so that an undo returns to where the check-in came from, and to mark it late.
        extra_fields |= {"checked_in_at": now, "checked_in_from": current_status}
    with transaction.atomic():
        for guard in TRANSITION_GUARDS.get(to, []):
            guard(appointment, actor, given)
        changed = Appointment.objects.filter(pk=appointment.pk, status=current_status).update(
            status=to, updated_by=actor, updated_at=now, **extra_fields
        )
        if changed != 1:
            appointment.refresh_from_db()
            raise TransitionRefused(
                "Someone else changed this appointment a moment ago; it is now "
                f"{appointment.get_status_display().lower()}. Please check and try again.",
                code="changed_meanwhile",
            )
        appointment.refresh_from_db()
        _record_history(appointment, actor=actor)
        kind = {
            Status.CANCELLED: AppointmentEvent.Kind.CANCELLED,
            Status.NO_SHOW: AppointmentEvent.Kind.NO_SHOW,
        }.get(to, AppointmentEvent.Kind.STATUS)
        if given:
            detail = f"{detail} {given.describe()}".strip()
        _record(
            appointment,
            actor=actor,
            kind=kind,
            from_status=current_status,
            to_status=to,
            detail=detail,
        )
        if to == Status.CHECKED_IN:
            audit_record(
                user=actor,
                action=AuditEvent.Action.CHANGE,
                obj=appointment,
                patient=appointment.patient,
                detail="checked in" + (" (late)" if appointment.checked_in_late else ""),
            )
        change = {Status.CANCELLED: "cancelled", Status.NO_SHOW: "no_show"}.get(to, "status")
        appointment_changed.send(Appointment, appointment=appointment, change=change)
    return appointment


def _checked_in_from(appointment) -> str:
    """The status the check-in came from; for a check-in older than the field, its event."""
    if appointment.checked_in_from:
        return appointment.checked_in_from
    event = (
        appointment.events.filter(to_status=Status.CHECKED_IN, from_status__in=CHECK_IN_FROM)
        .order_by("-at", "-pk")
        .first()
    )
    return event.from_status if event else Status.BOOKED


def appointment_check_in_undo(*, actor, appointment: Appointment, now=None) -> Appointment:
    """Take back a check-in made by mistake: back to booked or confirmed, whichever it was.

    Only on the appointment's day (site-local) and only while the patient is still just
    checked in; guards under UNDO_CHECK_IN may refuse more. Conditional on the status, so
    it cannot undo a procedure someone started meanwhile.
    """
    now = now or timezone.now()
    if appointment.status != Status.CHECKED_IN:
        raise TransitionRefused(
            f"Only a check-in can be undone; this appointment is "
            f"{appointment.get_status_display().lower()}.",
            code="check_in_undo_not_checked_in",
        )
    if not rules.is_appointment_day(appointment, now):
        raise TransitionRefused(
            "A check-in can only be undone on the day of the appointment "
            f"({appointment.local_start:%a %d %b %Y}).",
            code="check_in_undo_day_over",
        )
    for guard in TRANSITION_GUARDS.get(UNDO_CHECK_IN, []):
        guard(appointment, actor, Overrides())
    back_to = _checked_in_from(appointment)
    with transaction.atomic():
        changed = Appointment.objects.filter(pk=appointment.pk, status=Status.CHECKED_IN).update(
            status=back_to,
            checked_in_at=None,
            checked_in_from="",
            updated_by=actor,
            updated_at=now,
        )
        if changed != 1:
            appointment.refresh_from_db()
            raise TransitionRefused(
                "Someone else changed this appointment a moment ago; it is now "
                f"{appointment.get_status_display().lower()}. The check-in was not undone.",
                code="changed_meanwhile",
            )
        checked_in_at = appointment.checked_in_at
        appointment.refresh_from_db()
        _record_history(appointment, actor=actor)
        label = Status(back_to).label.lower()
        at = f" at {rules.hhmm(checked_in_at, appointment.site)}" if checked_in_at else ""
        _record(
            appointment,
            actor=actor,
            kind=AppointmentEvent.Kind.CHECK_IN_UNDONE,
            from_status=Status.CHECKED_IN,
            to_status=back_to,
            detail=f"Check-in{at} undone; the appointment is {label} again.",
        )
        audit_record(
            user=actor,
            action=AuditEvent.Action.CHANGE,
            obj=appointment,
            patient=appointment.patient,
            detail=f"check-in undone, back to {label}",
        )
        appointment_changed.send(Appointment, appointment=appointment, change="check_in_undone")
    return appointment


def appointment_cancel(
    *, actor, appointment: Appointment, reason: str, note: str = ""
) -> Appointment:
    if reason not in CancelReason.values:
        raise TransitionRefused(
            "Choose a reason for the cancellation.", code="cancel_reason_missing"
        )
    if reason == CancelReason.OTHER and not note.strip():
        raise TransitionRefused(
            "Describe the reason when you choose 'Other'.", code="cancel_note_missing"
        )
    label = CancelReason(reason).label
    return appointment_transition(
        actor=actor,
        appointment=appointment,
        to=Status.CANCELLED,
        detail=f"{label}{': ' + note if note else ''}",
        extra_fields={"cancel_reason": reason, "cancel_note": note[:255]},
    )


def appointment_mark_no_show(*, actor, appointment: Appointment, now=None) -> Appointment:
    if appointment.starts_at > (now or timezone.now()):
        raise TransitionRefused(
            "A patient can only be marked as a no-show once the start time has passed.",
            code="no_show_too_early",
        )
    return appointment_transition(actor=actor, appointment=appointment, to=Status.NO_SHOW)

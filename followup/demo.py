"""Demo data of the follow-up engine for `seed_demo`: reminders, surveys, answers, alerts.

Runs after scheduling's demo (three weeks of bookings around today). Those reach back only
ten days, too short for a 3-month outcome, so this adds a few dozen earlier completed
procedures ("[demo-followup]" in their notes), one a weekday from three weeks to about
half a year ago. Every past procedure then gets the rows the engine would have made: the
reminder, the baseline, the care plan's surveys, answered along a trajectory drawn per
patient (most improve, some do not, a few get worse or report a red flag), so the
worklists, alerts and patient timelines have something to show. Areas that record the
procedure day complete those earlier procedures too, in seed_demo's late phase.

Nothing is left for the dispatcher to email: due rows are recorded as sent, answered or
expired, and alerts as already emailed to on-call. The rows still open (sent, not yet
answered) get their real email through the configured backend, which under `make run` is
the outbox, so every "sent" the pages show has an email behind it with links that work.
A year of facet joint pain courses (followup.demo_courses) gives the outcomes pages their
story: RFA after two positive medial branch blocks does better than RFA without them.
Idempotent: an appointment that has its reminder row is done, and the earlier procedures are
only made while none exists.
"""

import datetime
import random
from email.utils import formatdate

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import get_connection
from django.db.models import Q
from django.utils import timezone

from clinic.management.commands.seed_demo import MRN_PREFIX, RANDOM_SEED, Seeded
from clinic.models import Patient, ProcedureType, Room, Site
from followup import emails, services
from followup.demo_courses import (
    negative_diary,
    pain_average,
    positive_diary,
    seed_courses,
    step_of,
)
from followup.models import Alert, EmailLog, Invitation
from followup.red_flags import red_flag_questions
from followup.scoring import NDI_SECTIONS, ODI_SECTIONS
from followup.services_outcomes import outcome_episodes_rebuild
from followup.services_recall import recall_entries_rebuild
from scheduling import rules
from scheduling.demo import side_and_levels
from scheduling.models import Appointment, Status

HISTORY_NOTE = "[demo-followup] Earlier procedure"
HISTORY_COUNT = 60
HISTORY_FIRST_DAYS_AGO = 21
HISTORY_TYPES = {
    "esi-transforaminal": 14,
    "esi-interlaminar": 8,
    "facet-injection": 6,
    "rfa": 10,
    "si-joint-injection": 6,
    "medial-branch-block": 4,
    "nerve-root-block": 4,
    "vertebroplasty": 2,
    "scs-trial": 2,
}
HISTORY_PHYSICIANS = ["dr.holm", "dr.nielsen"]
NURSES = ["nurse.jensen", "nurse.hansen", "nurse.pedersen"]
# (profile, weight, fraction of pain relieved at best)
# (course, share of patients out of 20, best fraction of pain relieved). Dealt in turn
# rather than drawn, so the mix is the same whatever day the demo is seeded on.
PROFILES = [
    ("improves", 12, 0.65),
    ("partly", 4, 0.35),
    ("unchanged", 3, 0.0),
    ("worse", 1, -0.35),
]
PROFILE_DECK = [name for name, share, _best in PROFILES for _ in range(share)]
DONE = (Status.DISCHARGED, Status.COMPLETED)
S, K = Invitation.Status, Invitation.Kind
HOUR, DAY = datetime.timedelta(hours=1), datetime.timedelta(days=1)
ACK_NOTES = [
    "Phoned the patient: symptoms settling, advised to call again if worse.",
    "Phoned the patient; seen by GP today, no infection.",
    "Spoke to the patient, booked a review with the physician.",
]


def _clamp(value, low, high):
    return max(low, min(high, round(value)))


class Trajectory:
    """One patient's course after one procedure, drawn from a seeded generator."""

    def __init__(self, rng: random.Random, number: int = 0, *, profile=None, average=None):
        """`profile` and `average` (usual pain) set a demo course's patient (demo_courses)."""
        self.rng = rng
        self.profile = profile or PROFILE_DECK[(number * 7) % len(PROFILE_DECK)]
        best = next(best for profile, _share, best in PROFILES if profile == self.profile)
        self.best = best + rng.uniform(-0.1, 0.1)
        self.average = rng.randint(5, 8)
        if average is not None:
            self.average = average
        self.pain_now = None
        self.disability = {
            section: _clamp(self.average / 2 + rng.uniform(-1.5, 1.5), 0, 5)
            for section, _title in ODI_SECTIONS
        }

    def relief_at(self, days: float) -> float:
        """Fraction of the baseline pain relieved `days` after the procedure."""
        if self.profile == "worse":
            return self.best
        # Relief builds over two weeks; it fades after three months unless it was an RFA.
        onset = min(1.0, 0.6 + days / 14)
        fade = 1.0 if days <= 90 else max(0.5, 1 - (days - 90) / 400)
        return self.best * onset * fade

    def nrs(self, relief: float) -> dict:
        average = _clamp(self.average * (1 - relief), 0, 10)
        return {
            "nrs_current": _clamp(average + self.rng.randint(-1, 1), 0, 10),
            "nrs_average": average,
            "nrs_worst": _clamp(average + self.rng.randint(1, 3), 0, 10),
        }

    def baseline(self, instruments) -> dict:
        answers = {
            "nrs_current": _clamp(self.average + self.rng.randint(-1, 1), 0, 10),
            "nrs_average": self.average,
            "nrs_worst": _clamp(self.average + self.rng.randint(1, 3), 0, 10),
        }
        self.pain_now = answers["nrs_current"]
        return {**answers, **self._disability(instruments, 0.0)}

    def _disability(self, instruments, relief: float) -> dict:
        answers = {}
        for instrument, sections in (("odi", ODI_SECTIONS), ("ndi", NDI_SECTIONS)):
            if instrument in instruments:
                values = list(self.disability.values())
                answers[instrument] = {
                    section: _clamp(values[i] * (1 - 0.8 * relief), 0, 5)
                    for i, (section, _title) in enumerate(sections)
                }
        return answers

    def answers(self, instruments, days: float, red_flag_codes=()) -> dict:
        relief = self.relief_at(days)
        answers = {}
        if "nrs" in instruments:
            answers.update(self.nrs(relief))
        if "pgic" in instruments:
            if relief >= 0.5:
                answers["pgic"] = self.rng.choice([1, 2])
            elif relief >= 0.25:
                answers["pgic"] = self.rng.choice([2, 3])
            elif relief >= 0.05:
                answers["pgic"] = self.rng.choice([3, 4])
            elif relief > -0.2:
                answers["pgic"] = self.rng.choice([4, 4, 5])
            else:
                answers["pgic"] = self.rng.choice([5, 6, 7])
        if "relief" in instruments:
            answers["relief"] = _clamp(max(relief, 0) * 10, 0, 10) * 10
        answers.update(self._disability(instruments, relief))
        if "red_flags" in instruments:
            flags = dict.fromkeys(red_flag_codes, False)
            common = [
                code for code in ("fever", "site_infection", "postural_headache") if code in flags
            ]
            if common and self.rng.random() < 0.04:
                flags[self.rng.choice(common)] = True
            answers["red_flags"] = flags
        if "diary" in instruments:
            answers["diary"] = self.diary()
        return answers

    def diary(self) -> dict:
        """NRS through the day after a diagnostic block: relief while the anaesthetic works."""
        before = self.average
        block = 0.85 if self.profile in ("improves", "partly") else 0.2
        diary = {}
        for minutes in settings.FOLLOWUP_DIARY_OFFSETS_MINUTES:
            working = block if minutes <= 360 else block / 2
            score = _clamp(before * (1 - working) + self.rng.randint(-1, 1), 0, 10)
            diary[str(minutes)] = None if self.rng.random() < 0.1 else score
        if all(score is None for score in diary.values()):
            diary["60"] = _clamp(before * (1 - block), 0, 10)
        return diary


def _mark_sent(invitation: Invitation, at, *, reminders=0) -> None:
    """Record that the row's emails went out at `at` (and its reminders after it)."""
    Invitation.objects.filter(pk=invitation.pk).update(
        sent_at=at, sends=1 + reminders, reminders_sent=reminders, queued_at=at
    )
    patient = invitation.patient
    logs = [("survey" if invitation.is_survey else invitation.kind, at)]
    logs += [("survey_reminder", at + 3 * DAY * n) for n in range(1, reminders + 1)]
    EmailLog.objects.bulk_create(
        EmailLog(
            invitation=invitation,
            patient=patient,
            kind=kind,
            to_address=patient.email,
            at=moment,
            status=EmailLog.Status.SENT,
            message_id=f"<invitation-{invitation.pk}-send-{n}@demo.clinic>",
        )
        for n, (kind, moment) in enumerate(logs, start=1)
    )


def _answer(invitation, answers, at, results) -> None:
    response = services.response_record(invitation=invitation, answers=answers, submitted_at=at)
    Invitation.objects.filter(pk=invitation.pk).update(opened_at=at - datetime.timedelta(minutes=4))
    results["responses"].add(response, created=True)
    for alert in response.alerts.all():
        results["alerts"].add(alert, created=True)


def _settle_alerts(alerts, now, nurses) -> None:
    """Demo alerts were emailed to on-call; those of the last three days are still open."""
    rng = random.Random(RANDOM_SEED)
    for alert in alerts:
        fields = {"oncall_emailed_at": alert.created_at + datetime.timedelta(minutes=1)}
        if now - alert.created_at > 3 * DAY and nurses:
            fields.update(
                acknowledged_by=rng.choice(nurses),
                acknowledged_at=alert.created_at + datetime.timedelta(minutes=rng.randint(20, 90)),
                acknowledgement_note=rng.choice(ACK_NOTES),
            )
        elif now - alert.created_at > HOUR:
            fields["escalated_at"] = alert.created_at + HOUR
        Alert.objects.filter(pk=alert.pk).update(**fields)


def _rng(appointment) -> random.Random:
    """The same draws for the same booking on every machine and every run."""
    return random.Random(
        f"{RANDOM_SEED}-{appointment.patient.mrn}-{int(appointment.starts_at.timestamp())}"
    )


def _seed_past(appointment, now, results, number) -> None:
    rng = _rng(appointment)
    step = step_of(appointment)
    if step is None:
        course = Trajectory(rng, number)
    else:
        course = Trajectory(
            rng, number, profile=step.course.profile, average=pain_average(appointment.patient)
        )
    consent = appointment.patient.can_receive_email
    reminder = services.reminder_schedule(
        appointment=appointment, now=appointment.starts_at - 10 * DAY
    )
    results["invitations"].add(reminder, created=True)
    if consent:
        _mark_sent(reminder, reminder.due_at)
        Invitation.objects.filter(pk=reminder.pk).update(status=S.SENT)
    else:
        Invitation.objects.filter(pk=reminder.pk).update(
            status=S.SKIPPED, last_error="The patient has not agreed to email."
        )
    baseline = appointment.invitations.filter(kind=K.BASELINE).first()
    if appointment.status == Status.NO_SHOW:
        if baseline is not None:
            if consent:
                _mark_sent(baseline, reminder.due_at)
            Invitation.objects.filter(pk=baseline.pk).update(status=S.EXPIRED)
        return
    if baseline is None:  # a plan that takes the baseline at check-in
        services.baseline_open_at_check_in(
            appointment=appointment, now=appointment.starts_at - HOUR
        )
        baseline = appointment.invitations.filter(kind=K.BASELINE).first()
    if baseline is not None:
        at = (
            reminder.due_at + HOUR * rng.randint(1, 20) if consent else appointment.starts_at - HOUR
        )
        _answer(baseline, course.baseline(baseline.instruments), at, results)
        if consent:
            _mark_sent(baseline, reminder.due_at)
    if appointment.status not in DONE:
        return

    discharged_at = appointment.recovery_ends_at or appointment.ends_at
    for row in services.plan_instantiate(appointment=appointment, discharged_at=discharged_at):
        results["invitations"].add(row, created=True)
        if row.due_at > now:
            continue
        if not consent:
            Invitation.objects.filter(pk=row.pk).update(
                status=S.SKIPPED, last_error="The patient has not agreed to email."
            )
            continue
        days = (row.due_at - discharged_at) / DAY
        answered = rng.random() < 0.8
        delay = HOUR * rng.choice([1, 2, 5, 20, 30, 75])
        if step is not None:
            # A demo course's patient answers every survey, a diary the same evening.
            answered = True
            delay = 9 * HOUR if "diary" in row.instruments else min(delay, 20 * HOUR)
        at = row.due_at + delay
        reminders = sum(at > row.due_at + 3 * DAY * n for n in (1, 2))
        if answered and at < now and at < row.expires_at:
            _mark_sent(row, row.due_at, reminders=reminders)
            codes = [question.code for question in red_flag_questions(appointment)]
            answers = course.answers(row.instruments, days, codes)
            if step is not None and "diary" in answers and course.pain_now:
                diary = positive_diary if step.positive_block else negative_diary
                answers["diary"] = diary(course.pain_now, settings.FOLLOWUP_DIARY_OFFSETS_MINUTES)
            _answer(row, answers, at, results)
        else:
            waited = int((now - row.due_at) / (3 * DAY))
            reminders = min(waited, 2)
            _mark_sent(row, row.due_at, reminders=reminders)
            next_at = row.due_at + 3 * DAY * (reminders + 1) if reminders < 2 else None
            Invitation.objects.filter(pk=row.pk).update(
                status=S.EXPIRED if row.expires_at <= now else S.SENT,
                next_reminder_at=next_at if next_at and next_at < row.expires_at else None,
            )


def _seed_future(appointment, now, results) -> None:
    """Reminder rows of upcoming bookings; those already due went out, some answered."""
    rng = _rng(appointment)
    reminder = services.reminder_schedule(appointment=appointment, now=now)
    results["invitations"].add(reminder, created=True)
    due = appointment.starts_at - 2 * DAY
    if due > now or not appointment.patient.can_receive_email:
        return
    _mark_sent(reminder, due)
    Invitation.objects.filter(pk=reminder.pk).update(status=S.SENT, due_at=due)
    baseline = appointment.invitations.filter(kind=K.BASELINE).first()
    if baseline is None:
        return
    Invitation.objects.filter(pk=baseline.pk).update(status=S.SENT, due_at=due)
    _mark_sent(baseline, due)
    at = due + HOUR * rng.randint(1, 30)
    if at < now and rng.random() < 0.7:
        _answer(baseline, Trajectory(rng).baseline(baseline.instruments), at, results)


def seed_history(now) -> Seeded:
    """Earlier completed procedures, one each weekday, so that late surveys are due."""
    seeded = Seeded()
    if Appointment.objects.filter(notes__startswith=HISTORY_NOTE).exists():
        seeded.objects = list(Appointment.objects.filter(notes__startswith=HISTORY_NOTE))
        return seeded
    users = {
        user.username: user
        for user in get_user_model().objects.filter(
            username__in=[*HISTORY_PHYSICIANS, "desk.madsen"]
        )
    }
    physicians = [users[name] for name in HISTORY_PHYSICIANS if name in users]
    sites = list(Site.objects.filter(active=True).order_by("name"))
    patients = list(
        Patient.objects.filter(mrn__startswith=MRN_PREFIX, email_consent=True).order_by("mrn")
    )
    types = {pt.code: pt for pt in ProcedureType.objects.filter(code__in=HISTORY_TYPES)}
    if not (physicians and sites and patients and types):
        return seeded
    rng = random.Random(RANDOM_SEED + 5)
    day = timezone.localdate(now) - datetime.timedelta(days=HISTORY_FIRST_DAYS_AGO)
    codes = [code for code in HISTORY_TYPES if code in types]
    for number in range(HISTORY_COUNT):
        while day.weekday() >= 5:
            day -= DAY
        procedure_type = types[rng.choices(codes, [HISTORY_TYPES[c] for c in codes])[0]]
        site = sites[number % len(sites)]
        room = next(
            (
                room
                for room in Room.objects.filter(
                    site=site, kind=Room.Kind.PROCEDURE, active=True
                ).order_by("name")
                if room.has_capabilities(procedure_type.required_capabilities)
            ),
            None,
        )
        bay = Room.objects.filter(site=site, kind=Room.Kind.RECOVERY, active=True).first()
        if room is None:
            day -= 2 * DAY
            continue
        # One procedure a day across the clinic: nothing can overlap.
        starts_at = datetime.datetime.combine(day, datetime.time(9, 0), site.zone)
        windows = rules.windows_for(procedure_type, starts_at)
        laterality, levels = side_and_levels(rng, procedure_type)
        physician = physicians[number % len(physicians)]
        appointment = Appointment.objects.create(
            patient=rng.choice(patients),
            procedure_type=procedure_type,
            physician=physician,
            site=site,
            room=room,
            recovery_bay=bay,
            starts_at=windows.starts_at,
            ends_at=windows.ends_at,
            recovery_starts_at=windows.recovery_starts_at if bay else None,
            recovery_ends_at=windows.recovery_ends_at if bay else None,
            laterality=laterality,
            levels=levels,
            notes=HISTORY_NOTE,
            status=Status.COMPLETED,
            created_by=users.get("desk.madsen"),
            updated_by=users.get("desk.madsen"),
        )
        seeded.add(appointment, created=True)
        day -= 2 * DAY
    return seeded


def seed() -> dict[str, Seeded]:
    now = timezone.now()
    history = seed_history(now)
    courses = seed_courses(now)
    results = {
        "earlier procedures": history,
        "facet pain courses": courses,
        "invitations": Seeded(),
        "responses": Seeded(),
        "alerts": Seeded(),
    }
    todo = list(
        Appointment.objects.filter(Q(patient__mrn__startswith=MRN_PREFIX))
        .exclude(invitations__kind=K.APPOINTMENT_REMINDER)
        .exclude(status__in=(Status.CANCELLED, Status.REQUESTED))
        .select_related("patient", "site", "procedure_type")
        .order_by("starts_at", "pk")
    )
    seed_surveys(todo, now, results)
    _write_open_emails([appointment.pk for appointment in todo])
    return results


def seed_surveys(appointments, now, results) -> None:
    """The engine's rows for `appointments` (oldest first, none with its reminder row yet):
    reminders of upcoming ones; reminders, baselines and answered surveys of past ones."""
    past = 0
    for appointment in appointments:
        if appointment.starts_at > now and appointment.status in (Status.BOOKED, Status.CONFIRMED):
            _seed_future(appointment, now, results)
        elif appointment.starts_at <= now:
            _seed_past(appointment, now, results, past)
            past += 1
    nurses = list(get_user_model().objects.filter(username__in=NURSES))
    _settle_alerts(results["alerts"].objects, now, nurses)


def _write_open_emails(appointment_ids) -> None:
    """The email behind each invitation this run recorded as sent and still open."""
    invitations = Invitation.objects.filter(
        appointment_id__in=appointment_ids, status=S.SENT
    ).select_related("patient", "appointment__site", "appointment__procedure_type")
    messages = []
    for invitation in invitations.order_by("sent_at", "pk"):
        message = emails.invitation_message(invitation)
        message.extra_headers["Date"] = formatdate(invitation.sent_at.timestamp(), localtime=True)
        messages.append(message)
    if messages:
        get_connection(fail_silently=False).send_messages(messages)


def seed_late() -> dict[str, Seeded]:
    """The outcome row of every treated demo appointment and the demo patients' recall rows,
    so the outcomes page and the recall worklist show the demo's story on a fresh `make
    run`. Runs after nursing's `seed_late` (INSTALLED_APPS order), so the nurse's
    pre-procedure pain is there for patients without a baseline."""
    ids = Appointment.objects.filter(patient__mrn__startswith=MRN_PREFIX).values_list(
        "pk", flat=True
    )
    patients = Patient.objects.filter(mrn__startswith=MRN_PREFIX).values_list("pk", flat=True)
    return {
        "outcome rows": Seeded(updated=outcome_episodes_rebuild(appointment_ids=list(ids))),
        "recall rows": Seeded(updated=recall_entries_rebuild(patient_ids=list(patients))),
    }

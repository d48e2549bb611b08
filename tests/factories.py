"""The clinic's things, made for tests: factory_boy factories and the few steps tests share.

Factories write straight to the database, past the booking rules and their signals: an
appointment last week, a survey already sent, a response with its scores. Tests of the rules
themselves book through the services (the `book` fixture in tests/conftest.py).

Most scheduling tests work in the hand-built `calendar` of tests/conftest.py; pass it as
`calendar=` and an appointment takes that calendar's site, fluoroscopy room, physician and
transforaminal ESI.
"""

import base64
import datetime
import json
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import factory
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone
from factory.django import DjangoModelFactory

from clinic.models import OpeningHours, Patient, ProcedureType, Room, Site, StaffProfile
from clinic.nursing import rules, services
from clinic.nursing.models import ChecklistItem, ObservationRound, Phase, TimeOutConfirmation
from clinic.roles import Role, group_name
from followup.dispatch import invitation_send
from followup.models import Alert, Invitation, Response
from followup.red_flags import red_flag_questions
from followup.scoring import ODI_SECTIONS
from followup.tokens import make_token
from scheduling.models import Appointment, PhysicianSession, Status
from scheduling.rules import windows_for
from scheduling.signals import appointment_changed

PASSWORD = "correct-horse-battery"
COPENHAGEN = "Europe/Copenhagen"


def next_monday(weeks_ahead=1) -> datetime.date:
    """A Monday at least three days ahead, so that a 48-hour reminder is still in the future."""
    today = datetime.date.today()
    days = 7 - today.weekday()
    if days < 3:
        days += 7
    return today + datetime.timedelta(days=days + 7 * (weeks_ahead - 1))


def local(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    """`hour:minute` on `day` in Copenhagen, the zone of the test sites."""
    return datetime.datetime.combine(day, datetime.time(hour, minute), ZoneInfo(COPENHAGEN))


# --- People ---------------------------------------------------------------------------


class UserFactory(DjangoModelFactory):
    """A login and nothing more: no staff profile, no role."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")


class StaffFactory(UserFactory):
    """A member of staff with a profile; `role` puts them in that role's group."""

    @classmethod
    def _create(cls, model_class, *args, role=None, **kwargs):
        user = model_class.objects.create_user(*args, password=PASSWORD, **kwargs)
        StaffProfile.objects.create(user=user, title=role.label if role else "")
        if role:
            user.groups.add(Group.objects.get(name=group_name(role)))
        return user


class PhysicianFactory(StaffFactory):
    username = factory.Sequence(lambda n: f"doctor{n}")
    role = Role.PHYSICIAN


class PatientFactory(DjangoModelFactory):
    class Meta:
        model = Patient

    mrn = factory.Sequence(lambda n: f"P-{n:04}")
    first_name = "Pat"
    last_name = factory.Sequence(lambda n: f"Patient{n}")
    date_of_birth = datetime.date(1970, 1, 1)


# --- Sites, rooms and the catalogue -----------------------------------------------------


class SiteFactory(DjangoModelFactory):
    class Meta:
        model = Site

    name = factory.Sequence(lambda n: f"Site {n}")
    time_zone = COPENHAGEN


class OpeningHoursFactory(DjangoModelFactory):
    class Meta:
        model = OpeningHours

    site = factory.SubFactory(SiteFactory)
    weekday = 0
    opens = datetime.time(8)
    closes = datetime.time(16)


class PhysicianSessionFactory(DjangoModelFactory):
    class Meta:
        model = PhysicianSession

    physician = factory.SubFactory(PhysicianFactory)
    site = factory.SubFactory(SiteFactory)
    weekday = 0
    starts = datetime.time(8)
    ends = datetime.time(16)
    valid_from = datetime.date(2020, 1, 1)


def open_weekdays(site, physician, valid_from=datetime.date(2020, 1, 1)):
    """`site` open Monday to Friday 08:00-16:00, with `physician` in session all that time."""
    for weekday in range(5):
        OpeningHoursFactory(site=site, weekday=weekday)
        PhysicianSessionFactory(
            physician=physician, site=site, weekday=weekday, valid_from=valid_from
        )


class RoomFactory(DjangoModelFactory):
    """A procedure room (`kind=Room.Kind.RECOVERY` for a recovery bay)."""

    class Meta:
        model = Room

    site = factory.SubFactory(SiteFactory)
    name = factory.Sequence(lambda n: f"Room {n}")


class ProcedureTypeFactory(DjangoModelFactory):
    """A short low-risk procedure beyond the reference catalogue. The migrations seed that
    catalogue: look its procedures up by code (`seeded("rfa")`)."""

    class Meta:
        model = ProcedureType

    code = factory.Sequence(lambda n: f"extra-{n}")
    name = factory.LazyAttribute(lambda o: f"Extra procedure {o.code}")
    category = "therapeutic"
    procedure_minutes = 20
    bleeding_risk = "low"


def seeded(code: str) -> ProcedureType:
    """A procedure type of the reference catalogue the migrations seed."""
    return ProcedureType.objects.get(code=code)


# --- Appointments -----------------------------------------------------------------------


def _from_calendar(key, otherwise):
    """The `calendar` fixture's `key` when one was given, else a new one."""
    return factory.Maybe(
        "calendar",
        yes_declaration=factory.LazyAttribute(lambda o: o.calendar[key]),
        no_declaration=otherwise,
    )


def _procedure_type(o):
    if o.code:
        return seeded(o.code)
    return o.calendar["tfesi"] if o.calendar else seeded("esi-transforaminal")


class AppointmentFactory(DjangoModelFactory):
    """A booked appointment a week from now, written past the booking rules and signal (so
    at any time, past ones too). The room's time comes from `windows_for`, as booking sets
    it; the bay's time only when the appointment has a `recovery_bay`."""

    class Meta:
        model = Appointment

    class Params:
        calendar = None  # the `calendar` fixture: its site, room, physician and TFESI
        code = None  # a procedure of the seeded catalogue by its code, instead of the TFESI
        windows = factory.LazyAttribute(lambda o: windows_for(o.procedure_type, o.starts_at))

    patient = factory.SubFactory(PatientFactory)
    procedure_type = factory.LazyAttribute(_procedure_type)
    physician = _from_calendar("physician", factory.SubFactory(PhysicianFactory))
    site = _from_calendar("site", factory.SubFactory(SiteFactory))
    room = _from_calendar(
        "fluoro", factory.SubFactory(RoomFactory, site=factory.SelfAttribute("..site"))
    )
    recovery_bay = None
    starts_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=7))
    ends_at = factory.LazyAttribute(lambda o: o.windows.ends_at)
    recovery_starts_at = factory.LazyAttribute(
        lambda o: o.windows.recovery_starts_at if o.recovery_bay else None
    )
    recovery_ends_at = factory.LazyAttribute(
        lambda o: o.windows.recovery_ends_at if o.recovery_bay else None
    )
    laterality = "left"
    levels = "L4-L5"
    status = Status.BOOKED
    cancel_reason = factory.LazyAttribute(lambda o: "other" if o.status == Status.CANCELLED else "")


def _earlier_today(o):
    """Twenty minutes ago, but never before the site's midnight: the nursing day's tests read
    today's board and lists, and CI may run just after midnight."""
    now = timezone.now().replace(microsecond=0)
    midnight = timezone.localtime(now, o.site.zone).replace(hour=0, minute=0, second=0)
    return max(now - datetime.timedelta(minutes=20), midnight)


_NOT_ARRIVED = (Status.REQUESTED, Status.BOOKED, Status.CONFIRMED, Status.CANCELLED, Status.NO_SHOW)


class TodaysAppointmentFactory(AppointmentFactory):
    """The nursing day: the patient checked in twenty minutes ago, with the calendar's
    recovery bay (booking refuses the past, and the nursing day happens today)."""

    recovery_bay = _from_calendar(
        "bay",
        factory.SubFactory(
            RoomFactory, site=factory.SelfAttribute("..site"), kind=Room.Kind.RECOVERY
        ),
    )
    starts_at = factory.LazyAttribute(_earlier_today)
    status = Status.CHECKED_IN
    # Arrived on time, after confirming; a patient still waiting has no check-in yet.
    checked_in_at = factory.LazyAttribute(
        lambda o: None if o.status in _NOT_ARRIVED else o.starts_at - datetime.timedelta(minutes=5)
    )
    checked_in_from = factory.LazyAttribute(
        lambda o: "" if o.status in _NOT_ARRIVED else Status.CONFIRMED
    )


def appointment_maker(calendar, patient, first_day=None):
    """`add(n)`: n more non-overlapping appointments, eight a weekday from `first_day` on."""
    made = []
    room_minutes = calendar["tfesi"].room_minutes

    def add(count):
        for _ in range(count):
            index = len(made)
            week, rest = divmod(index, 40)
            day_index, slot = divmod(rest, 8)
            day = (first_day or calendar["monday"]) + datetime.timedelta(weeks=week, days=day_index)
            start = local(day, 8) + datetime.timedelta(minutes=room_minutes * slot)
            made.append(AppointmentFactory(calendar=calendar, patient=patient, starts_at=start))
        return made

    return add


def filler_name(number: int) -> str:
    """The name of the `number`th patient of the crowded day (`fill_day` in conftest)."""
    return f"Pat{number} Fill{number:02}"


def set_status(appointment, status, *, change="status"):
    """Change the status as scheduling does and tell the follow-up engine."""
    Appointment.objects.filter(pk=appointment.pk).update(
        status=status, cancel_reason="other" if status == Status.CANCELLED else ""
    )
    appointment.refresh_from_db()
    appointment_changed.send(Appointment, appointment=appointment, change=change)
    return appointment


# --- Follow-up: invitations, answers, alerts ---------------------------------------------

SURVEY_INSTRUMENTS = ["nrs", "relief", "pgic", "disability", "red_flags"]


class InvitationFactory(DjangoModelFactory):
    """A survey due a minute ago, not sent yet: the dispatcher's next row."""

    class Meta:
        model = Invitation

    appointment = factory.SubFactory(AppointmentFactory)
    patient = factory.SelfAttribute("appointment.patient")
    kind = Invitation.Kind.SURVEY
    instruments = factory.LazyFunction(lambda: ["nrs", "pgic"])
    due_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(minutes=1))
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=14))


class SentSurveyFactory(InvitationFactory):
    """The full survey, emailed two hours ago and not answered yet: what a patient opens."""

    instruments = factory.LazyFunction(lambda: list(SURVEY_INSTRUMENTS))
    status = Invitation.Status.SENT
    due_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(hours=2))
    sent_at = factory.SelfAttribute("due_at")


class ResponseFactory(DjangoModelFactory):
    """The patient's answers to `invitation`, scored, and the invitation marked answered."""

    class Meta:
        model = Response

    invitation = factory.SubFactory(SentSurveyFactory)
    patient = factory.SelfAttribute("invitation.patient")
    answers = factory.LazyFunction(
        lambda: {"nrs_current": 3, "nrs_average": 4, "nrs_worst": 6, "pgic": 2}
    )
    nrs_current = 3
    nrs_average = 4
    nrs_worst = 6
    pgic = 2
    patient_rated_relief = 50
    percent_relief = 25
    odi_percent = 34

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        Invitation.objects.filter(pk=kwargs["invitation"].pk).update(
            status=Invitation.Status.ANSWERED, answered_at=timezone.now()
        )
        return super()._create(model_class, *args, **kwargs)


class AlertFactory(DjangoModelFactory):
    """An open red-flag alert raised by `response`."""

    class Meta:
        model = Alert

    response = factory.SubFactory(ResponseFactory)
    patient = factory.SelfAttribute("response.patient")
    kind = Alert.Kind.RED_FLAG
    detail = "Fever or chills"


def link(invitation, purpose="survey") -> str:
    """The signed link of an email about `invitation`."""
    name = {
        "survey": "survey_start",
        "confirm": "appointment_confirm",
        "reschedule": "appointment_reschedule_request",
        "unsubscribe": "unsubscribe",
    }[purpose]
    return reverse(name, args=[make_token(purpose=purpose, invitation_id=invitation.pk)])


def red_flag_codes(appointment=None) -> list[str]:
    """The red-flag questions a survey asks for `appointment` (by its region); without one,
    those of the factories' lumbar L4-L5 appointment."""
    if appointment is None:
        appointment = SimpleNamespace(levels="L4-L5", procedure_type=SimpleNamespace(regions=[]))
    return [question.code for question in red_flag_questions(appointment)]


def answers_post(**overrides) -> dict:
    """A complete survey POST for SURVEY_INSTRUMENTS with a lumbar (ODI) appointment."""
    data = {
        "nrs_current": "3",
        "nrs_average": "4",
        "nrs_worst": "6",
        "relief": "50",
        "pgic": "2",
        **{f"odi__{section_id}": "1" for section_id, _title in ODI_SECTIONS},
        **{f"red_flags__{code}": "no" for code in red_flag_codes()},
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def run_sends(ids: list[int], now=None) -> list[str]:
    """Run the send task body for every enqueued id, as a worker would."""
    outcomes = [invitation_send(invitation_id=pk, now=now) for pk in ids]
    ids.clear()
    return outcomes


def published(client, queue: str) -> list[list[int]]:
    """The id lists of the send tasks waiting in a Redis queue, oldest first (taken off it)."""
    batches = []
    while (raw := client.rpop(queue)) is not None:
        message = json.loads(raw)
        assert message["headers"]["task"] == "followup.send_invitations"
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        batches.append(args[0])
    return batches


# --- The nursing record, step by step ---------------------------------------------------

# Valid answers by item code; yes/no items answer "yes" and choices their first option.
VALUES = {
    "baseline-systolic": 130,
    "baseline-diastolic": 80,
    "baseline-pulse": 72,
    "baseline-spo2": 98,
    "baseline-pain": 6,
    "glucose": 7.2,
    "signout-performed": "Left L4-L5 transforaminal ESI as planned",
    "signout-plan": "Standard observations; home with escort",
}
# A round in the low band (NEWS2 0).
CALM = dict(
    respiration_rate=16,
    spo2=98,
    on_oxygen=False,
    spo2_scale=1,
    systolic_bp=125,
    diastolic_bp=78,
    pulse=72,
    consciousness="A",
    temperature="36.8",
    pain_nrs=2,
)


def valid_value(item: ChecklistItem, appointment):
    if item.code in VALUES:
        return VALUES[item.code]
    if item.kind == ChecklistItem.Kind.CHOICE:
        return item.choices[0]
    if item.kind == ChecklistItem.Kind.ANTITHROMBOTIC:
        agents = rules.antithrombotics_of(appointment.patient)
        return {"doses": dict.fromkeys(agents, "stopped"), "risk_factors": False}
    if item.kind == ChecklistItem.Kind.TEXT:
        return "Done"
    return "yes"


def answer_items(appointment, actor, phases, **overrides):
    """Sign a valid answer to every applicable item of `phases`; `overrides` by code
    (underscores for dashes); an override of None leaves the item unanswered."""
    overrides = {code.replace("_", "-"): value for code, value in overrides.items()}
    values = {}
    for item in rules.applicable_items(appointment, phases):
        value = overrides.get(item.code, valid_value(item, appointment))
        if value is not None:
            values[item] = value
    return services.checklist_save(actor=actor, appointment=appointment, values=values, sign=True)


def confirm_time_out(appointment, nurse, physician):
    services.time_out_confirm(
        actor=nurse, appointment=appointment, role=TimeOutConfirmation.Role.NURSE
    )
    services.time_out_confirm(
        actor=physician, appointment=appointment, role=TimeOutConfirmation.Role.PHYSICIAN
    )


def ready_to_start(appointment, nurse, physician, **overrides):
    answer_items(
        appointment, nurse, [Phase.PRE_PROCEDURE, Phase.SIGN_IN, Phase.TIME_OUT], **overrides
    )
    confirm_time_out(appointment, nurse, physician)


def to_recovery(appointment, nurse, physician):
    ready_to_start(appointment, nurse, physician)
    services.procedure_start(actor=nurse, appointment=appointment)
    services.procedure_end(actor=nurse, appointment=appointment)
    appointment.refresh_from_db()
    return appointment


def take_round(appointment, nurse, **changes):
    return services.round_record(actor=nurse, appointment=appointment, data={**CALM, **changes})


def round_amend_form(round_, **changes) -> dict:
    """What the round amend page posts: the signed values as shown (time on the site's
    clock), with `changes` typed over them."""
    taken_at = timezone.localtime(round_.taken_at, round_.appointment.site.zone)
    values = {name: getattr(round_, name) for name in ObservationRound.ENTERED_FIELDS}
    values["taken_at"] = taken_at.strftime("%Y-%m-%dT%H:%M")
    return {**{k: str(v) for k, v in values.items()}, **changes}


def ready_to_discharge(appointment, nurse, physician, total_scores=None):
    to_recovery(appointment, nurse, physician)
    answer_items(appointment, nurse, [Phase.SIGN_OUT])
    take_round(appointment, nurse)
    scale = rules.protocol_for(appointment.procedure_type).scale
    scores = total_scores or {item.code: 2 for item in scale.items}
    services.assessment_record(actor=nurse, appointment=appointment, scores=scores)
    return appointment


def pass_second_factor(client, user):
    """Mark the client's session as verified with a (created) authenticator of the user."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=user, name="Test phone")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()

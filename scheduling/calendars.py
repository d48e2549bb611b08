"""iCalendar output: one appointment as an .ics file, and a physician's subscription feed.

Times are written in the site's zone (DTSTART;TZID=Europe/Copenhagen:...) with a VTIMEZONE
holding both offsets, so calendar programs place appointments right on both sides of a
daylight-saving switch.
"""

import datetime
import functools
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Count, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, Timezone

from scheduling.models import (
    FREED_STATUSES,
    AppointmentEvent,
    CalendarFeed,
    Status,
    new_feed_token,
)
from scheduling.selectors_board import card_appointments

# SEQUENCE must grow whenever the event changes so calendar programs replace their copy:
# it counts the appointment's events that move, cancel or edit it.
SEQUENCE_KINDS = [
    AppointmentEvent.Kind.RESCHEDULED,
    AppointmentEvent.Kind.CANCELLED,
    AppointmentEvent.Kind.NO_SHOW,
    AppointmentEvent.Kind.EDITED,
]
ICS_STATUS = {Status.REQUESTED: "TENTATIVE"}


def _host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def _new_calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", f"-//{settings.CLINIC_NAME}//Clinic tracker//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    return calendar


@functools.cache
def _vtimezone(tzid: str) -> bytes:
    """A zone's VTIMEZONE (its offsets from 1970 to 2038), written out: milliseconds of
    work, the same every time, so done once a process. Every appointment reminder email
    carries one."""
    return Timezone.from_tzid(tzid).to_ical()


def _to_ical(calendar: Calendar) -> bytes:
    """`calendar` written out with the VTIMEZONEs `calendar.add_missing_timezones()` would
    add, ahead of the events, byte for byte, but each zone written once a process."""
    zones = b"".join(_vtimezone(tzid) for tzid in sorted(calendar.get_missing_tzids()))
    if not zones:
        return calendar.to_ical()
    head, first_event, rest = calendar.to_ical().partition(b"BEGIN:VEVENT\r\n")
    return head + zones + first_event + rest


def _initials(patient) -> str:
    return "".join(f"{part[:1].upper()}." for part in (patient.first_name, patient.last_name))


def _appointment_url(appointment) -> str:
    try:
        return settings.SITE_URL + reverse("appointment_detail", args=[appointment.pk])
    except NoReverseMatch:  # the booking pages are optional to this module
        return ""


def _event(appointment, *, for_patient: bool, minimal: bool = False) -> Event:
    """One appointment as a VEVENT. The patient's names no procedure; the staff file names the
    procedure, side, level and the patient's initials; the `minimal` one of the subscription
    feed (synced to calendar services outside the clinic) only the room, the time and a link
    to the appointment, which needs a login."""
    site = appointment.site
    event = Event()
    event.add("uid", f"appointment-{appointment.pk}@{_host()}")
    event.add("dtstamp", appointment.updated_at.astimezone(datetime.UTC))
    sequence = getattr(appointment, "ics_sequence", None)
    if sequence is None:
        sequence = appointment.events.filter(kind__in=SEQUENCE_KINDS).count()
    event.add("sequence", sequence)
    event.add("dtstart", appointment.local_start)
    address = ", ".join(line.strip() for line in site.address.splitlines() if line.strip())
    if for_patient:
        # What reaches a patient's calendar (and so maybe a shared or synced one) names no
        # procedure; the stay lasts until the end of recovery.
        end = max(appointment.ends_at, appointment.recovery_ends_at or appointment.ends_at)
        event.add("dtend", timezone.localtime(end, site.zone))
        # In the active language: the reminder email builds it in the patient's.
        event.add("summary", _("Appointment at %(clinic)s") % {"clinic": settings.CLINIC_NAME})
        event.add("location", ", ".join(part for part in (site.name, address) if part))
        phone = site.phone or settings.CLINIC_PHONE
        event.add(
            "description",
            _("Questions or need to change the time? Call %(phone)s.") % {"phone": phone},
        )
    elif minimal:
        event.add("dtend", appointment.local_end)
        event.add("summary", f"Procedure · {appointment.room.name}")
        event.add("location", f"{site.name}, {appointment.room.name}")
        url = _appointment_url(appointment)
        if url:
            event.add("url", url)
            event.add("description", f"Details (login needed): {url}")
    else:
        event.add("dtend", appointment.local_end)
        procedure = appointment.procedure_type.name
        if appointment.side_and_level:
            procedure = f"{procedure} ({appointment.side_and_level})"
        event.add("summary", f"{procedure} · {_initials(appointment.patient)}")
        event.add("location", f"{site.name}, {appointment.room.name}")
        url = _appointment_url(appointment)
        if url:
            event.add("url", url)
        event.add("description", "\n".join(part for part in (procedure, url) if part))
    if appointment.status in FREED_STATUSES:
        event.add("status", "CANCELLED")
        event.add("transp", "TRANSPARENT")
    else:
        event.add("status", ICS_STATUS.get(appointment.status, "CONFIRMED"))
        event.add("transp", "OPAQUE")
    return event


def appointment_ics(appointment, *, for_patient: bool = False) -> bytes:
    """One appointment as an .ics file; the patient's version names no procedure."""
    name = settings.CLINIC_NAME if for_patient else f"{settings.CLINIC_NAME} appointment"
    calendar = _new_calendar(name)
    calendar.add_component(_event(appointment, for_patient=for_patient))
    return _to_ical(calendar)


def physician_feed_ics(
    physician,
    *,
    days_back: int = 30,
    days_ahead: int = 180,
    now: datetime.datetime | None = None,
) -> bytes:
    """The physician's appointments from `days_back` ago to `days_ahead`, cancelled ones
    included as STATUS:CANCELLED so subscribed calendars drop them."""
    now = now or timezone.now()
    name = physician.get_full_name() or physician.get_username()
    calendar = _new_calendar(f"{settings.CLINIC_NAME}: {name}")
    calendar.add("refresh-interval", datetime.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    appointments = card_appointments().filter(
        physician=physician,
        starts_at__gte=now - datetime.timedelta(days=days_back),
        starts_at__lt=now + datetime.timedelta(days=days_ahead),
    )
    appointments = appointments.annotate(
        ics_sequence=Count("events", filter=Q(events__kind__in=SEQUENCE_KINDS))
    )
    for appointment in appointments:
        calendar.add_component(_event(appointment, for_patient=False, minimal=True))
    return _to_ical(calendar)


def calendar_feed_create(*, physician) -> CalendarFeed:
    feed, _ = CalendarFeed.objects.get_or_create(physician=physician)
    return feed


def calendar_feed_revoke(*, physician) -> CalendarFeed:
    """Replace the token: the old URL stops working at once, a new one is issued and its
    life (CALENDAR_FEED_DAYS) starts again."""
    CalendarFeed.objects.filter(physician=physician).update(
        token=new_feed_token(), created_at=timezone.now()
    )
    return calendar_feed_create(physician=physician)


def calendar_feed_delete(*, physician) -> None:
    CalendarFeed.objects.filter(physician=physician).delete()

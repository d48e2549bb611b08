"""The slot finder: the next start times at which every booking rule holds at once."""

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.utils import timezone

from clinic.models import ProcedureType, Room, Site
from scheduling import rules
from scheduling.models import PhysicianSession

STEP_MINUTES = 15
DEFAULT_DAYS = 28
PARTS_OF_DAY = {
    "morning": (datetime.time(0), datetime.time(12)),
    "afternoon": (datetime.time(12), datetime.time(23, 59)),
}


@dataclass(frozen=True)
class Slot:
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    site: Site
    room: Room
    physician: object
    recovery_bay: Room


def find_slots(
    *,
    procedure_type: ProcedureType,
    site: Site | None = None,
    physician=None,
    patient=None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    part_of_day: str | None = None,
    limit: int = 10,
    now: datetime.datetime | None = None,
) -> list[Slot]:
    """Up to `limit` free slots, earliest first (straightforward reference implementation)."""
    now = now or timezone.now()
    date_from = date_from or timezone.localdate()
    date_to = date_to or date_from + datetime.timedelta(days=DEFAULT_DAYS)
    sites = [site] if site else list(Site.objects.filter(active=True))
    physicians = (
        [physician]
        if physician
        else list(
            get_user_model().objects.filter(
                staff_profile__credentials=procedure_type, is_active=True
            )
        )
    )
    found: list[Slot] = []
    day = date_from
    while day <= date_to and len(found) < limit:
        for each_site in sites:
            rooms = [
                room
                for room in Room.objects.filter(
                    site=each_site, kind=Room.Kind.PROCEDURE, active=True
                )
                if room.has_capabilities(procedure_type.required_capabilities)
            ]
            sessions = PhysicianSession.objects.filter(
                site=each_site, weekday=day.weekday(), physician__in=physicians
            ).select_related("physician")
            for session in sessions:
                start = datetime.datetime.combine(day, session.starts, each_site.zone)
                while start.time() < session.ends and len(found) < limit:
                    windows = rules.windows_for(procedure_type, start.astimezone(datetime.UTC))
                    if part_of_day and not (
                        PARTS_OF_DAY[part_of_day][0] <= start.time() < PARTS_OF_DAY[part_of_day][1]
                    ):
                        start += datetime.timedelta(minutes=STEP_MINUTES)
                        continue
                    for room in rooms:
                        refusals = rules.check_booking(
                            patient=patient,
                            procedure_type=procedure_type,
                            physician=session.physician,
                            room=room,
                            windows=windows,
                            laterality="left" if procedure_type.needs_laterality else "na",
                            levels="L4-L5" if procedure_type.needs_level else "",
                            now=now,
                        )
                        bay = None if refusals else rules.free_recovery_bay(each_site, windows)
                        if bay is not None:
                            found.append(
                                Slot(
                                    windows.starts_at,
                                    windows.ends_at,
                                    each_site,
                                    room,
                                    session.physician,
                                    bay,
                                )
                            )
                            break
                    start += datetime.timedelta(minutes=STEP_MINUTES)
        day += datetime.timedelta(days=1)
    found.sort(key=lambda slot: slot.starts_at)
    return found[:limit]

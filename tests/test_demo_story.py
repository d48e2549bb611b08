"""Issue 13, item 7: the demo tells a story. A year of facet joint pain courses in which RFA
after two positive medial branch blocks helps more patients (9 of 15) than RFA without them
(5 of 15), placed as the clinic would have booked them."""

import datetime
from collections import Counter

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.management.commands.seed_demo import Seeded, seed_patients, seed_sites, seed_staff
from clinic.models import ProcedureType
from followup import demo
from followup.blocks import POSITIVE, peak_relief_by_appointment
from followup.demo_courses import COURSE_COUNT, COURSE_NOTE, course, seed_courses, step_of
from followup.filters_outcomes import OutcomeFilter
from followup.models import OutcomeEpisode, Response
from followup.services_outcomes import outcome_episodes_rebuild
from scheduling import demo as scheduling_demo
from scheduling.models import Appointment, PhysicianSession


@pytest.fixture
def courses(db):
    sites = seed_sites()["sites"].objects
    users = {user.username: user for user in seed_staff()["staff"].objects}
    seed_patients(80)
    scheduling_demo.seed_sessions({site.name: site for site in sites}, users)
    now = timezone.now()
    made = seed_courses(now)
    appointments = sorted(made.objects, key=lambda a: (a.starts_at, a.pk))
    results = {name: Seeded() for name in ("invitations", "responses", "alerts")}
    demo.seed_surveys(appointments, now, results)
    return made


def test_it_deals_the_same_courses_every_time():
    plans = [course(number) for number in range(COURSE_COUNT)]
    groups = Counter(plan.group for plan in plans)
    assert groups == {"A": 15, "B": 15}
    assert all(plan.blocks == ((35, True), (17, True)) for plan in plans if plan.group == "A")
    assert all(len(plan.blocks) <= 1 for plan in plans if plan.group == "B")
    responders = Counter(plan.group for plan in plans if plan.profile == "improves")
    assert responders == {"A": 9, "B": 5}
    assert max(plan.rfa_days_ago for plan in plans) + 35 <= 366


def test_it_tells_that_rfa_after_two_positive_blocks_does_better(courses):
    appointments = list(Appointment.objects.filter(notes__startswith=COURSE_NOTE))
    assert courses.created == len(appointments) == 15 * 3 + 8 + 7 * 2
    blocks = peak_relief_by_appointment([a.pk for a in appointments])
    responders, treated = Counter(), Counter()
    for appointment in appointments:
        step = step_of(appointment)
        if step.block:
            assert (blocks[appointment.pk].result == POSITIVE) == step.positive_block
            continue
        treated[step.course.group] += 1
        at_3_months = Response.objects.get(
            invitation__appointment=appointment, invitation__step__name="3 months"
        )
        responders[step.course.group] += at_3_months.percent_relief >= 50
    assert treated == {"A": 15, "B": 15}
    assert responders == {"A": 9, "B": 5}


def test_it_books_the_courses_as_the_clinic_would_have(courses):
    appointments = list(
        Appointment.objects.filter(notes__startswith=COURSE_NOTE).select_related("site")
    )
    today = timezone.localdate()
    assert min(a.starts_at for a in appointments).date() >= today - datetime.timedelta(days=366)
    sessions = list(PhysicianSession.objects.all())
    for appointment in appointments:
        start = appointment.local_start
        hours = appointment.site.opening_hours.get(weekday=start.weekday())
        end = max(appointment.ends_at, appointment.recovery_ends_at).astimezone(start.tzinfo)
        assert hours.opens <= start.time() and end.time() <= hours.closes, appointment.notes
        assert any(
            s.physician_id == appointment.physician_id
            and s.site_id == appointment.site_id
            and s.weekday == start.weekday()
            for s in sessions
        ), appointment.notes
        assert appointment.created_at < appointment.starts_at
    days = Counter(
        (a.patient_id, timezone.localdate(a.starts_at))
        for a in Appointment.objects.filter(patient__in={a.patient_id for a in appointments})
    )
    assert max(days.values()) == 1
    # Each course's blocks and RFA treat the same side and level of one patient.
    by_course = {}
    for appointment in appointments:
        key = step_of(appointment).course.label
        by_course.setdefault(key, set()).add(
            (appointment.patient_id, appointment.laterality, appointment.levels)
        )
    assert all(len(same) == 1 for same in by_course.values())


def test_it_seeds_the_courses_once(courses):
    again = seed_courses(timezone.now())
    assert again.created == 0 and len(again.objects) == courses.created


def test_it_shows_the_story_on_the_outcomes_filters(courses, client, physician):
    outcome_episodes_rebuild()
    rfa = ProcedureType.objects.get(code="rfa")
    since = (timezone.localdate() - datetime.timedelta(days=365)).isoformat()
    rates = {}
    for blocks_before in ("two", "fewer"):
        episodes = OutcomeFilter(
            {"procedure_type": rfa.pk, "blocks_before": blocks_before, "treated_from": since},
            queryset=OutcomeEpisode.objects.all(),
        ).qs
        rates[blocks_before] = (episodes.count(), episodes.filter(responder50_m3=True).count())
    assert rates == {"two": (15, 9), "fewer": (15, 5)}
    client.force_login(physician)
    page = client.get(
        reverse("outcomes"), {"procedure_type": rfa.pk, "blocks_before": "two"}
    ).content.decode()
    assert "Diagnostic blocks before" in page

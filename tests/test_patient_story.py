"""Issue 13, item 4: the patient's own story on their page. Pain and ODI/NDI over time with
each procedure marked (type, level, side), and each diagnostic block's diary, as a chart
with its data tables and a text summary, in the same number of queries however long."""

import datetime
import json

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from followup.models import Invitation
from followup.selectors_story import patient_story
from followup.services import response_record
from scheduling.models import Status
from tests.browser import DESKTOP
from tests.factories import AppointmentFactory, InvitationFactory

ODI_ALL_2 = {
    "pain_intensity": 2,
    "personal_care": 2,
    "lifting": 2,
    "walking": 2,
    "sitting": 2,
    "standing": 2,
    "sleeping": 2,
    "sex_life": 2,
    "social_life": 2,
    "travelling": 2,
}


def _performed(calendar, patient, days_ago, code, **fields):
    return AppointmentFactory(
        calendar=calendar,
        patient=patient,
        code=code,
        status=Status.COMPLETED,
        starts_at=timezone.now() - datetime.timedelta(days=days_ago, hours=2),
        **fields,
    )


def _answer(appointment, kind, instruments, answers):
    return response_record(
        invitation=InvitationFactory(appointment=appointment, kind=kind, instruments=instruments),
        answers=answers,
    )


def _history(calendar, patient, start_days_ago=120):
    """A medial branch block (positive diary), then an RFA with a baseline and a survey."""
    block = _performed(
        calendar, patient, start_days_ago, "medial-branch-block", laterality="left", levels="L4-L5"
    )
    _answer(
        block,
        Invitation.Kind.BASELINE,
        ["nrs"],
        {"nrs_current": 8, "nrs_average": 7, "nrs_worst": 9},
    )
    _answer(block, Invitation.Kind.SURVEY, ["diary"], {"diary": {"30": 2, "60": 1, "480": 6}})
    rfa = _performed(
        calendar, patient, start_days_ago - 30, "rfa", laterality="left", levels="L4-L5"
    )
    _answer(
        rfa,
        Invitation.Kind.BASELINE,
        ["nrs", "odi"],
        {"nrs_current": 7, "nrs_average": 7, "nrs_worst": 9, "odi": {**ODI_ALL_2, "lifting": 4}},
    )
    _answer(
        rfa,
        Invitation.Kind.SURVEY,
        ["nrs", "odi"],
        {"nrs_current": 2, "nrs_average": 3, "nrs_worst": 5, "odi": {**ODI_ALL_2, "lifting": 1}},
    )
    return block, rfa


def test_it_tells_the_story_in_numbers_and_words(calendar, patient):
    block, rfa = _history(calendar, patient)
    story = patient_story(patient=patient)
    assert [p.label for p in story.procedures] == [
        "Medial branch block (diagnostic) Left L4-L5",
        "Radiofrequency ablation Left L4-L5",
    ]
    assert [p.appointment_id for p in story.procedures] == [block.pk, rfa.pk]
    assert story.procedures[0].block.result == "positive"
    assert story.procedures[1].block is None
    assert [p.nrs_current for p in story.points] == [8, 7, 2]
    assert "2 procedures" in story.summary
    assert "Pain now (NRS) went from 8" in story.summary and "to 2" in story.summary
    assert "ODI went from 44.0%" in story.summary and "to 38.0%" in story.summary
    assert "Positive block: peak relief 88%" in story.summary
    chart = story.chart()
    assert len(chart["timeline"]["points"]) == 3
    assert [p["label"] for p in chart["timeline"]["procedures"]] == [
        p.label for p in story.procedures
    ]
    assert chart["blocks"][0]["window"] == 360
    assert [p["counted"] for p in chart["blocks"][0]["points"]] == [True, True, False]
    json.dumps(chart)


def test_it_says_so_when_there_is_nothing_to_tell(patient):
    assert patient_story(patient=patient).summary == "No procedures and no answered surveys yet."


def test_it_shows_physicians_the_chart_its_tables_and_summary(client, calendar, patient, physician):
    _history(calendar, patient)
    client.force_login(physician)
    page = client.get(patient.get_absolute_url()).content.decode()
    assert 'id="story-timeline"' in page and 'role="img"' in page
    assert 'id="story-procedures"' in page and 'id="story-scores"' in page
    assert 'id="patient-story-summary"' in page and "Positive block" in page
    assert 'id="story-data"' in page and "chartjs-4.6.1/chart.umd.min.js" in page
    assert "clinic/story.js" in page
    assert "Left L4-L5" in page


def test_it_keeps_the_story_from_those_who_do_not_read_outcomes(
    client, calendar, patient, front_desk
):
    _history(calendar, patient)
    client.force_login(front_desk)
    page = client.get(patient.get_absolute_url()).content.decode()
    assert 'id="patient-story"' not in page


def test_it_shows_the_story_in_the_same_number_of_queries_however_long(
    client, calendar, patient, physician, assert_query_count_flat
):
    made = []

    def add_rows(count):
        for _ in range(count):
            made.append(_history(calendar, patient, start_days_ago=1100 - 31 * len(made)))

    client.force_login(physician)
    assert_query_count_flat(client, patient.get_absolute_url(), add_rows)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_draws_the_timeline_for_a_physician_at_the_desk(
    open_page, client, live_server, settings, calendar, patient, physician
):
    block, _rfa = _history(calendar, patient)
    page = open_page(DESKTOP)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A physician's login asks for a second factor: the session of a verified login instead.
    client.force_login(physician)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    page.goto(patient.get_absolute_url())
    timeline = page.locator("#story-timeline")
    expect(timeline).to_be_visible()
    # Chart.js drew on the canvas (a drawn chart gets its own size and a chart instance).
    assert page.evaluate("() => !!window.Chart && !!window.Chart.getChart('story-timeline')")
    assert page.evaluate("() => document.querySelectorAll('canvas[id^=block-diary-]').length") == 1
    expect(page.locator("#story-scores")).to_be_visible()
    expect(page.locator("#story-procedures")).to_contain_text("Left L4-L5")
    expect(page.locator("#patient-story-summary")).to_contain_text("Pain now (NRS) went from 8")
    assert errors == []
    assert serious_violations(page) == []
    # The block's own appointment page shows its result and diary table, as accessibly.
    page.goto(block.get_absolute_url())
    expect(page.locator("#diagnostic-block")).to_contain_text("Positive block")
    assert serious_violations(page) == []


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']}: {[node['target'] for node in violation['nodes']][:3]}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]

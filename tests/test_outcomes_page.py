"""The outcomes page, its episode list and API twins: who may read them, what they show, the
"fewer than 5" rule, the physician's own results on the start page, and a constant number
of queries whatever the number of episodes."""

import datetime
import re
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect
from rest_framework.test import APIClient

from clinic.models import AuditEvent, Diagnosis
from followup import selectors_outcomes
from followup.models import OutcomeEpisode
from scheduling.models import Appointment, Status
from tests.browser import DESKTOP
from tests.factories import PatientFactory, PhysicianFactory, seeded

ROLES = ["front_desk", "nurse", "physician", "manager", "admin", "outsider"]
READERS = {"physician", "manager"}


@pytest.fixture
def add_episodes(calendar):
    """`add(n, **fields)`: n treated episodes (completed appointments an hour apart, among
    ten patients) with the given outcome fields; by default the calendar's physician's
    transforaminal ESIs, half of them substantial responders."""
    made = {"count": 0}
    patients = PatientFactory.create_batch(10)
    base = timezone.now() - datetime.timedelta(days=30)

    def add(count, procedure_type=None, physician=None, **fields):
        procedure_type = procedure_type or calendar["tfesi"]
        physician = physician or calendar["physician"]
        appointments = []
        for _ in range(count):
            index = made["count"]
            made["count"] += 1
            start = base - datetime.timedelta(hours=index)
            appointments.append(
                Appointment(
                    patient=patients[index % 10],
                    procedure_type=procedure_type,
                    physician=physician,
                    site=calendar["site"],
                    room=calendar["fluoro"],
                    starts_at=start,
                    ends_at=start + datetime.timedelta(minutes=45),
                    status=Status.COMPLETED,
                    levels="L4-L5",
                    laterality="left",
                )
            )
        Appointment.objects.bulk_create(appointments)
        episodes = []
        for number, appointment in enumerate(appointments):
            good = number % 2 == 0
            values = {
                "treated_on": timezone.localdate(appointment.starts_at),
                "region": "lumbar",
                "levels": "L4-L5",
                "laterality": "left",
                "baseline_nrs": 8,
                "baseline_source": "survey" if number % 4 else "nurse",
                "has_followup": True,
                "relief_w2": Decimal(75 if good else 25),
                "responder30_w2": good,
                "responder50_w2": good,
                "relief_m3": Decimal(50 if good else 0),
                "responder30_m3": good,
                "responder50_m3": good,
                "last_point": "m3",
                "last_relief": Decimal(50 if good else 0),
                "immpact_category": "substantial" if good else "no meaningful change",
                "responder_30": good,
                "responder_50": good,
                "disability_instrument": "odi",
                "disability_baseline": Decimal(40),
                "disability_last": Decimal(28 if good else 38),
                "disability_change": Decimal(12 if good else 2),
                "disability_mcid": good,
                "pgic_last": 2 if good else 4,
                "pgic_improved": good,
                "durable_days": 91 if good else 14,
                "durable_event": not good,
                **fields,
            }
            episodes.append(
                OutcomeEpisode(
                    appointment=appointment,
                    patient_id=appointment.patient_id,
                    procedure_type=procedure_type,
                    physician=physician,
                    site=calendar["site"],
                    **values,
                )
            )
        OutcomeEpisode.objects.bulk_create(episodes)
        return episodes

    return add


def test_it_lets_only_physicians_and_managers_read_outcomes(client, personas, add_episodes):
    one = add_episodes(6)[0]
    api = APIClient()
    for role in ROLES:
        client.force_login(personas[role])
        api.force_authenticate(personas[role])
        expected = 200 if role in READERS else 403
        for url in (reverse("outcomes"), reverse("outcome_episodes")):
            assert client.get(url).status_code == expected, (role, url)
        for path in ("episodes", "summary", f"episodes/{one.pk}"):
            status = api.get(f"/api/v1/followup/outcomes/{path}/").status_code
            assert status == expected, (role, path)


def test_it_shows_a_physician_rates_with_intervals_and_audits_the_read(
    client, physician, add_episodes
):
    add_episodes(20)
    client.force_login(physician)
    page = client.get(reverse("outcomes")).content.decode()
    # 10 of 20 at >=50% at the last answer: 50%, Wilson 95% CI 29.9-70.1%.
    assert "50% (95% CI 30–70%, 10 of 20)" in page
    assert 'id="responders-chart"' in page and 'id="responders-table"' in page
    assert 'id="durability-chart"' in page and 'id="durability-table"' in page
    assert "vendor/chartjs-4.6.1/chart.umd.min.js" in page
    # ODI: mean of ten 12s and ten 2s.
    assert "7.0 (n=20)" in page
    # Five of the twenty had the nurse's baseline.
    assert "5 / 0" in page
    event = AuditEvent.objects.filter(user=physician, detail__startswith="outcomes").get()
    assert event.action == AuditEvent.Action.VIEW


def test_it_says_fewer_than_five_patients_instead_of_a_rate(
    client, manager, calendar, add_episodes
):
    add_episodes(20)
    rfa = seeded("rfa")
    # Four episodes of one patient each would still be fewer than five patients.
    add_episodes(4, procedure_type=rfa)
    client.force_login(manager)
    page = client.get(reverse("outcomes")).content.decode()
    assert "Fewer than 5 patients: no rates are shown" in page
    summary = APIClient()
    summary.force_authenticate(manager)
    data = summary.get("/api/v1/followup/outcomes/summary/").json()
    groups = {group["label"]: group for group in data["groups"]}
    assert groups[rfa.name]["suppressed"] is True
    assert groups[rfa.name]["points"] == []
    assert groups[rfa.name]["last"]["responders_50"]["rate"] is None
    tfesi = groups[calendar["tfesi"].name]
    assert tfesi["last"]["responders_50"]["rate"] == 0.5
    assert tfesi["last"]["responders_50"]["ci_low"] == pytest.approx(0.2993, abs=1e-4)
    assert tfesi["durability_median_days"] == 14
    assert data["overall"]["treated"] == 24


def test_it_filters_by_procedure_and_groups_by_physician(client, manager, calendar, add_episodes):
    other = PhysicianFactory(first_name="Ole", last_name="Lund")
    add_episodes(10)
    add_episodes(10, procedure_type=seeded("rfa"), physician=other)
    client.force_login(manager)
    rfa = seeded("rfa")
    response = client.get(reverse("outcomes"), {"procedure_type": rfa.pk, "group_by": "physician"})
    groups = response.context["summary"].groups
    assert [group.label for group in groups] == ["Ole Lund"]
    assert groups[0].treated == 10


def test_it_exports_the_episode_rows_as_csv(client, physician, add_episodes):
    add_episodes(6)
    client.force_login(physician)
    answer = client.get(reverse("outcome_episodes"), {"_export": "csv"})
    lines = answer.content.decode().splitlines()
    assert "Relief 2 weeks (%)" in lines[0] and "Baseline from" in lines[0]
    assert len(lines) == 7
    assert "75" in lines[1] or "25" in lines[1]
    # The day treated, as on the page: 2026-11-30.
    treated = timezone.localdate(timezone.now() - datetime.timedelta(days=30))
    assert lines[1].startswith(f"{treated:%Y-%m-%d},")
    # Choices by their labels, as on the page.
    rows = "\n".join(lines[1:])
    assert rows.count(",Lumbar,") == 6
    assert rows.count("Nurse's pre-procedure NRS") == 2 and rows.count("Baseline survey") == 4
    page = client.get(reverse("outcome_episodes")).content.decode()
    assert f"<td>{treated:%Y-%m-%d}</td>" in page
    assert "<td>Lumbar</td>" in page and "<td>Nurse&#x27;s pre-procedure NRS</td>" in page
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


def test_it_shows_the_physician_their_year_against_the_clinics(client, physician, add_episodes):
    other = PhysicianFactory(first_name="Ole", last_name="Lund")
    add_episodes(10)
    add_episodes(10, physician=other, responder_50=True)
    client.force_login(physician)
    page = client.get(reverse("home")).content.decode()
    assert "Your results, last 12 months" in page
    # Theirs: 5 of 10; the clinic's: 15 of 20.
    assert "5 of 10" in page and "15 of 20" in page


def _queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(captured)


def test_it_answers_in_the_same_number_of_queries_for_10_and_1000_episodes(
    client, manager, add_episodes
):
    client.force_login(manager)
    api = APIClient()
    api.force_authenticate(manager)
    urls = [
        (client, reverse("outcomes")),
        (client, reverse("outcome_episodes")),
        (api, "/api/v1/followup/outcomes/episodes/"),
        (api, "/api/v1/followup/outcomes/summary/"),
    ]
    add_episodes(10)
    for c, url in urls:  # warm: the logged-in user's permissions are cached after one
        c.get(url)
    few = [_queries(c, url) for c, url in urls]
    add_episodes(990)
    many = [_queries(c, url) for c, url in urls]
    assert many == few


def test_it_lists_episodes_joining_only_the_tables_it_must(
    client, physician, calendar, add_episodes
):
    """Planning the list's six-table join took PostgreSQL longer (2.5-6 ms) than running it:
    the procedure's name and the diagnosis code are read by key."""
    disc = Diagnosis.objects.first()
    add_episodes(3, diagnosis=disc)
    client.force_login(physician)
    with CaptureQueriesContext(connection) as captured:
        body = client.get(reverse("outcome_episodes")).content.decode()
    listing = next(q["sql"] for q in captured if 'FROM "followup_outcomeepisode" INNER' in q["sql"])
    joined = re.findall(r'JOIN "(\w+)"', listing.split('FROM "followup_outcomeepisode"')[-1])
    assert sorted(joined) == ["auth_user", "clinic_patient", "clinic_site"], joined
    assert disc.code in body and calendar["tfesi"].name in body


def test_it_totals_every_grouping_alike_and_as_the_rows_add_up(calendar, add_episodes):
    """The overall row is the groups' counts and sums added up, with each patient counted once
    (ten patients, treated by two physicians with two procedures)."""
    other = PhysicianFactory(first_name="Ole", last_name="Lund")
    add_episodes(8)
    add_episodes(7, physician=other, responder_50=True, disability_change=Decimal("12.5"))
    add_episodes(6, procedure_type=seeded("esi-caudal"), disability_change=Decimal("7.25"))
    episodes = OutcomeEpisode.objects.all()
    inner, params = selectors_outcomes._filtered(episodes)
    by_sql = selectors_outcomes._fetch(
        f"SELECT {selectors_outcomes.AGGREGATES} FROM ({inner}) e", params
    )[0]
    overalls = {
        grouping: selectors_outcomes.outcome_summary(episodes, grouping=grouping).overall
        for grouping in ("procedure_type", "physician", "site", "region")
    }
    first = overalls["procedure_type"]
    assert all(overall == first for overall in overalls.values())
    assert (first.patients, first.treated) == (by_sql["patients"], by_sql["treated"]) == (10, 21)
    assert first.odi.total == float(by_sql["odi_sum"] or 0) and first.odi.n == by_sql["odi_n"]


def test_it_filters_and_groups_by_the_bookings_diagnosis(client, physician, add_episodes):
    disc, stenosis = Diagnosis.objects.all()[:2]
    add_episodes(6, diagnosis=disc)
    add_episodes(7, diagnosis=stenosis)
    add_episodes(3)
    client.force_login(physician)
    response = client.get(reverse("outcomes"), {"diagnosis": disc.pk})
    assert response.context["summary"].overall.treated == 6
    response = client.get(reverse("outcomes"), {"group_by": "diagnosis"})
    labels = {group.label: group.treated for group in response.context["summary"].groups}
    assert labels == {str(stenosis): 7, str(disc): 6, "Not recorded": 3}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_lets_a_physician_filter_to_rfa_and_read_the_chart_and_its_table(
    open_page, client, live_server, settings, calendar, physician, add_episodes
):
    rfa = seeded("rfa")
    add_episodes(12)
    add_episodes(12, procedure_type=rfa)
    page = open_page(DESKTOP)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A physician's login asks for a second factor: the session of a verified login instead.
    client.force_login(physician)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    page.goto(reverse("outcomes"))
    page.get_by_label("Procedure", exact=True).select_option(label=rfa.name)
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"procedure_type={rfa.pk}"))
    table = page.locator("#responders-table")
    expect(table).to_contain_text(rfa.name)
    expect(table).not_to_contain_text(calendar["tfesi"].name)
    expect(page.locator("#responders-chart")).to_be_visible()
    # Chart.js drew both charts (a drawn chart has a chart instance).
    assert page.evaluate("() => !!window.Chart && !!window.Chart.getChart('responders-chart')")
    assert page.evaluate("() => !!window.Chart.getChart('durability-chart')")
    expect(page.locator("#durability-table")).to_contain_text(rfa.name)
    expect(page.locator("#responders-summary")).to_contain_text("had at least 50% relief")
    assert errors == []
    results = Axe().run(page)
    serious = [
        f"{violation['id']}: {[node['target'] for node in violation['nodes']][:3]}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == []

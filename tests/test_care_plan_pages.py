"""Care plans in the staff pages: managers edit steps, instruments and preparation advice with
plain widgets (never JSON), with history and a preview of what the patient receives;
the other roles read or are refused."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from followup.models import CarePlan, CarePlanStep, PreparationInstruction
from tests.browser import DESKTOP
from tests.factories import ProcedureTypeFactory

ROLES = ["front_desk", "nurse", "physician", "manager", "admin", "outsider"]
READERS = {"nurse", "physician", "manager", "admin"}
EDITORS = {"manager", "admin"}


@pytest.fixture
def plan(db):
    return CarePlan.objects.get(procedure_type__code="esi-transforaminal")


def edit_post(plan, **changes) -> dict:
    """The edit form as the page sends it, unchanged except for `changes`."""
    steps = list(plan.steps.all())
    data = {
        "plan-active": "on" if plan.active else "",
        "plan-baseline_with_reminder": "on" if plan.baseline_with_reminder else "",
        "plan-baseline_instruments": plan.baseline_instruments,
        "steps-TOTAL_FORMS": str(len(steps) + 1),
        "steps-INITIAL_FORMS": str(len(steps)),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    for index, step in enumerate(steps):
        prefix = f"steps-{index}-"
        data.update(
            {
                prefix + "id": str(step.pk),
                prefix + "plan": str(plan.pk),
                prefix + "name": step.name,
                prefix + "offset_days": str(step.offset_days),
                prefix + "offset_minutes": str(step.offset_minutes),
                prefix + "local_time": step.local_time.strftime("%H:%M") if step.local_time else "",
                prefix + "expiry_days": "" if step.expiry_days is None else str(step.expiry_days),
                prefix + "instruments": step.instruments,
                prefix + "order": str(step.order),
            }
        )
    # The empty form for a new survey, as the browser sends it (its number fields' defaults).
    extra = f"steps-{len(steps)}-"
    data.update({extra + "offset_days": "0", extra + "offset_minutes": "0", extra + "order": "0"})
    data = {key: value for key, value in data.items() if value != ""}
    data.update(changes)
    return data


def test_it_lets_managers_edit_and_clinical_staff_read(client, personas, plan):
    step = plan.steps.first()
    pages = {
        reverse("care_plan_list"): READERS,
        reverse("care_plan_history", args=[plan.pk]): READERS,
        reverse("care_plan_step_preview", args=[step.pk]): READERS,
        reverse("care_plan_edit", args=[plan.pk]): EDITORS,
        reverse("care_plan_preparation", args=[plan.pk]): EDITORS,
    }
    for url, allowed in pages.items():
        for role in ROLES:
            client.force_login(personas[role])
            status = client.get(url).status_code
            assert status == (200 if role in allowed else 403), f"{role} on {url}: {status}"
    # Refused writes change nothing.
    for role in ("nurse", "front_desk", "physician"):
        client.force_login(personas[role])
        response = client.post(
            reverse("care_plan_edit", args=[plan.pk]), edit_post(plan, **{"steps-0-name": "X"})
        )
        assert response.status_code == 403
    assert not plan.steps.filter(name="X").exists()


def test_it_saves_ticked_instruments_and_keeps_who_changed_them(client, manager, plan):
    step = plan.steps.get(name="6 weeks")
    index = list(plan.steps.all()).index(step)
    client.force_login(manager)
    response = client.post(
        reverse("care_plan_edit", args=[plan.pk]),
        edit_post(
            plan,
            **{
                f"steps-{index}-instruments": ["red_flags", "nrs", "pgic"],
                f"steps-{index}-offset_days": "40",
            },
        ),
    )
    assert response.status_code == 302, response.context and response.context["steps"].errors
    step.refresh_from_db()
    assert step.instruments == ["nrs", "pgic", "red_flags"]  # catalogue order
    assert step.offset_days == 40
    latest = step.history.latest()
    assert latest.history_user == manager
    body = client.get(reverse("care_plan_history", args=[plan.pk])).content.decode()
    assert "Step “6 weeks” changed" in body
    assert "42 → 40" in body
    assert manager.get_full_name() in body


def test_it_refuses_a_survey_without_instruments(client, manager, plan):
    client.force_login(manager)
    data = edit_post(plan)
    del data["steps-0-instruments"]
    response = client.post(reverse("care_plan_edit", args=[plan.pk]), data)
    assert response.status_code == 200
    assert "Tick at least one instrument." in response.content.decode()


def test_it_adds_and_removes_a_survey(client, manager, plan):
    client.force_login(manager)
    count = plan.steps.count()
    extra = f"steps-{count}-"
    client.post(
        reverse("care_plan_edit", args=[plan.pk]),
        edit_post(
            plan,
            **{
                extra + "name": "6 months",
                extra + "offset_days": "182",
                extra + "local_time": "10:00",
                extra + "instruments": ["nrs", "disability"],
                extra + "order": "9",
                "steps-0-DELETE": "on",
            },
        ),
    )
    names = list(plan.steps.values_list("name", flat=True))
    assert "6 months" in names and len(names) == count
    assert CarePlanStep.objects.get(plan=plan, name="6 months").instruments == ["nrs", "disability"]


def test_it_previews_the_email_and_survey_in_danish(client, nurse, plan):
    step = plan.steps.get(name="2 weeks")
    client.force_login(nurse)
    body = client.get(
        reverse("care_plan_step_preview", args=[step.pk]), {"language": "da"}
    ).content.decode()
    assert "Kære Anna" in body or "Anna" in body
    assert "Dine smerter" in body or "smerte" in body.lower()
    english = client.get(
        reverse("care_plan_step_preview", args=[step.pk]), {"language": "en"}
    ).content.decode()
    assert "Dear Anna" in english
    assert "Warning signs" in english


def test_it_edits_preparation_advice_with_history(client, manager, plan):
    client.force_login(manager)
    rows = list(PreparationInstruction.objects.filter(procedure_type=plan.procedure_type))
    data = {
        "prep-TOTAL_FORMS": str(len(rows) + 1),
        "prep-INITIAL_FORMS": str(len(rows)),
        "prep-MIN_NUM_FORMS": "0",
        "prep-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data.update(
            {
                f"prep-{index}-id": str(row.pk),
                f"prep-{index}-topic": row.topic,
                f"prep-{index}-language": row.language,
                f"prep-{index}-text": row.text,
                f"prep-{index}-order": str(row.order),
            }
        )
    data[f"prep-{len(rows)}-order"] = "0"  # the empty form for a new point
    data["prep-0-text"] = "Bring a list of your medicines."
    response = client.post(reverse("care_plan_preparation", args=[plan.pk]), data)
    assert response.status_code == 302
    rows[0].refresh_from_db()
    assert rows[0].text == "Bring a list of your medicines."
    assert rows[0].history.latest().history_user == manager


def test_it_lists_plans_in_constant_queries(client, manager, plan, assert_query_count_flat):
    client.force_login(manager)
    made = iter(range(1000))

    def add_rows(count):
        for _ in range(count):
            number = next(made)
            procedure_type = ProcedureTypeFactory(code=f"extra-{number}")
            extra = CarePlan.objects.get_or_create(procedure_type=procedure_type)[0]
            CarePlanStep.objects.get_or_create(
                plan=extra, name="2 weeks", defaults={"instruments": ["nrs"]}
            )

    assert_query_count_flat(client, reverse("care_plan_list"), add_rows)


def login_with_second_factor(page, user, live_server):
    """A manager sees no page before their second factor (tested elsewhere): the browser
    takes the session of a test client logged in with it."""
    client = Client()
    client.force_login(user)  # passes the second factor (tests/conftest.py)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )


def serious_violations(page) -> list[str]:
    # The page's own content; the shared navbar is checked by the every-page crawl.
    results = Axe().run(page, context="main")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} "
        f"{[node['target'] for node in violation['nodes']][:3]}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_lets_a_manager_edit_a_care_plan_without_typing_json(open_page, manager, live_server):
    plan = CarePlan.objects.get(procedure_type__code="esi-transforaminal")
    page = open_page(DESKTOP)
    login_with_second_factor(page, manager, live_server)
    page.goto(reverse("care_plan_list"))
    checked = {"list": serious_violations(page)}
    page.get_by_role(
        "link", name=re.compile(f"Edit the plan for {plan.procedure_type.name}")
    ).click()
    checked["edit"] = serious_violations(page)
    six_weeks = page.get_by_role("group", name="Survey “6 weeks”")
    six_weeks.get_by_label("Global impression of change (PGIC)").uncheck()
    six_weeks.get_by_label("Red-flag symptoms").check()
    six_weeks.get_by_label("Days after discharge").fill("40")
    page.get_by_role("button", name="Save the care plan").click()
    expect(page.get_by_text("saved.")).to_be_visible()
    step = plan.steps.get(name="6 weeks")
    assert step.instruments == ["nrs", "relief", "red_flags", "disability"]
    assert step.offset_days == 40
    page.get_by_role("link", name="Dansk preview of “6 weeks”").click()
    expect(page.get_by_role("heading", name="The survey")).to_be_visible()
    checked["preview"] = serious_violations(page)
    page.get_by_role("link", name="History").click()
    expect(page.get_by_text("Step “6 weeks” changed")).to_be_visible()
    checked["history"] = serious_violations(page)
    assert checked == {"list": [], "edit": [], "preview": [], "history": []}

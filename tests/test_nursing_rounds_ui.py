"""The nurse's round pages on the server side: board rows coloured by NEWS2 band (with the
band in words), the live NEWS2 preview (htmx, scored by clinic.nursing.news2), and amending
a round on the round form itself, in the site's time."""

import datetime
import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.nursing.models import Amendment, ObservationRound
from tests.factories import CALM, round_amend_form, take_round

PREVIEW = reverse("nursing_round_preview")
ROUND_FORM = {
    **{name: str(value) for name, value in CALM.items()},
    "motor": "normal",
    "sensory": "normal",
    "puncture_site": "clean",
    "headache": "none",
    "nausea": "none",
}


def text(response) -> str:
    return html.unescape(response.content.decode())


def board(client, calendar):
    return text(client.get(reverse("nursing_board"), {"site": calendar["site"].pk}))


@pytest.mark.parametrize(
    ("changes", "band", "label"),
    [
        ({}, "low", "NEWS2 0 · low risk"),
        ({"pulse": 131}, "low-medium", "NEWS2 3 · low-medium risk"),
        ({"consciousness": "C", "pulse": 111}, "medium", "NEWS2 5 · medium risk"),
        (
            {"consciousness": "C", "pulse": 131, "respiration_rate": 25},
            "high",
            "NEWS2 9 · high risk",
        ),
    ],
)
def test_it_colours_the_board_row_and_card_by_news2_band(
    client, recovering, nurse, calendar, changes, band, label
):
    take_round(recovering, nurse, **changes)
    client.force_login(nurse)
    page = board(client, calendar)
    row = re.search(rf'<tr data-testid="board-row-{recovering.pk}" class="([^"]*)"', page)
    card = re.search(rf'<li class="([^"]*)" data-testid="board-card-{recovering.pk}"', page)
    assert f"band-{band}" in row[1].split() and f"band-{band}" in card[1].split()
    # Never colour alone: the score and the band in words, on the row and on the card.
    assert page.count(label) == 2
    assert "Next obs due" in page


def test_it_leaves_a_row_without_a_round_uncoloured_and_says_so(
    client, recovering, nurse, calendar
):
    client.force_login(nurse)
    page = board(client, calendar)
    assert (
        "band-"
        not in re.search(rf'data-testid="board-row-{recovering.pk}" class="([^"]*)"', page)[1]
    )
    assert "NEWS2: none yet" in page


def test_it_marks_an_overdue_round_on_the_card_too(client, recovering, nurse, calendar):
    round_ = take_round(recovering, nurse, pulse=131)
    ObservationRound.objects.filter(pk=round_.pk).update(
        taken_at=timezone.now() - datetime.timedelta(minutes=40)
    )
    client.force_login(nurse)
    page = board(client, calendar)
    card = re.search(rf'<li class="([^"]*)" data-testid="board-card-{recovering.pk}"', page)[1]
    assert {"band-low-medium", "is-overdue"} <= set(card.split())
    assert page.count("OVERDUE since") == 2


def test_it_shows_the_front_desk_no_news2_band(client, recovering, nurse, front_desk, calendar):
    take_round(recovering, nurse, pulse=131)
    client.force_login(front_desk)
    page = board(client, calendar)
    assert not re.search(r'class="[^"]*band-', page) and "NEWS2" not in page


# --- Live NEWS2 preview --------------------------------------------------------------


def test_it_previews_the_news2_of_what_is_typed(client, nurse):
    client.force_login(nurse)
    response = client.post(PREVIEW, {**ROUND_FORM, "pulse": "131", "on_oxygen": "False"})
    assert response.status_code == 200
    page = text(response)
    assert "NEWS2 3 · low-medium risk" in page and "risk-low-medium" in page
    assert "Call the physician once it is saved." in page
    assert "Pulse 3" in page
    assert not ObservationRound.objects.exists()


def test_it_scores_the_preview_with_the_same_python_as_a_saved_round(client, recovering, nurse):
    typed = {"spo2": "93", "on_oxygen": "True", "spo2_scale": "2", "temperature": "39.1"}
    client.force_login(nurse)
    preview = text(client.post(PREVIEW, {**ROUND_FORM, **typed}))
    saved = take_round(recovering, nurse, **{**typed, "on_oxygen": True, "spo2_scale": 2})
    assert f"NEWS2 {saved.news2_total} · {saved.news2_risk} risk" in preview


def test_it_names_what_the_preview_still_needs(client, nurse):
    client.force_login(nurse)
    page = text(client.post(PREVIEW, {**ROUND_FORM, "pulse": "", "temperature": ""}))
    assert "NEWS2 shows here once Pulse, Temperature are entered." in page
    assert "risk-" not in page


@pytest.mark.parametrize(
    "typed",
    [
        {"pulse": "abc"},
        {"pulse": "0"},
        {"pulse": str(10**30)},
        {"temperature": "NaN"},
        {"temperature": "1e999999"},
        {"spo2_scale": "7"},
        {"consciousness": "Z"},
        {"respiration_rate": "\x00"},
    ],
)
def test_it_answers_a_bad_preview_without_a_score_and_without_failing(client, nurse, typed):
    client.force_login(nurse)
    response = client.post(PREVIEW, {**ROUND_FORM, **typed})
    assert response.status_code == 200
    assert "risk-" not in text(response)


def test_it_previews_only_for_clinicians_and_only_by_post(client, nurse, front_desk, manager):
    assert client.post(PREVIEW, ROUND_FORM).status_code == 302
    for who in (front_desk, manager):
        client.force_login(who)
        assert client.post(PREVIEW, ROUND_FORM).status_code == 403
    client.force_login(nurse)
    assert client.get(PREVIEW).status_code == 405


def test_it_wires_the_round_form_to_the_preview_without_inline_script(client, recovering, nurse):
    client.force_login(nurse)
    page = text(client.get(reverse("nursing_round_new", args=[recovering.pk])))
    assert f'hx-post="{PREVIEW}"' in page
    assert 'hx-trigger="input changed delay:300ms from:#round-form' in page
    assert "NEWS2 shows here" in page
    # The draft keeping lives in a static file, fed by the form's data attributes.
    assert "clinic/round_draft.js" in page
    assert f'data-draft-key="nursing-round-draft:{nurse.pk}:{recovering.pk}"' in page
    assert "JSON.parse" not in page


# --- Amending a round ----------------------------------------------------------------


def test_it_amends_a_round_on_the_round_form_with_labels_and_site_time(
    client, recovering, nurse, calendar
):
    round_ = take_round(recovering, nurse)
    client.force_login(nurse)
    page = text(client.get(reverse("nursing_round_amend", args=[round_.pk])))
    local = timezone.localtime(round_.taken_at, calendar["site"].zone)
    # The heading and the time field on the site's clock, not UTC.
    assert f"Amend the observations taken {local:%a} {local.day} {local:%b, %H:%M}" in page
    assert f'value="{local:%Y-%m-%dT%H:%M}"' in page and 'type="datetime-local"' in page
    # The round form's labels and widgets, not typed codes.
    for label in ("SpO₂ (%)", "Systolic BP (mmHg)", "Air or oxygen", "Alert", "Oxygen"):
        assert label in page, label
    for developer in ("Spo₂", "Systolic bp (mmhg)", "False or True", "A, C, V, P or U", "YYYY"):
        assert developer not in page, developer
    assert 'name="spo2" value="98"' in page
    assert "NEWS2 0 · low risk" in page  # the preview starts from the signed values


def test_it_keeps_each_amended_value_and_scores_news2_again_once(client, recovering, nurse):
    round_ = take_round(recovering, nurse)
    client.force_login(nurse)
    url = reverse("nursing_round_amend", args=[round_.pk])
    response = client.post(
        url,
        round_amend_form(round_, pulse="131", consciousness="C", reason="Wrong patient's chart"),
    )
    assert response.status_code == 302
    round_.refresh_from_db()
    assert (round_.pulse, round_.consciousness, round_.news2_total) == (131, "C", 6)
    assert list(Amendment.objects.filter(round=round_).values_list("field", "new_value")) == [
        ("pulse (/min)", "131"),
        ("consciousness", "New confusion"),
        ("NEWS2", "6 (medium)"),
    ]
    # Posting the form untouched changes nothing and says so.
    response = client.post(url, round_amend_form(round_, reason="again"))
    assert response.status_code == 200
    assert "Nothing was changed" in text(response)
    assert Amendment.objects.filter(round=round_).count() == 3


def test_it_refuses_an_amendment_without_a_reason(client, recovering, nurse):
    round_ = take_round(recovering, nurse)
    client.force_login(nurse)
    response = client.post(
        reverse("nursing_round_amend", args=[round_.pk]),
        round_amend_form(round_, pulse="80", reason=""),
    )
    assert response.status_code == 200
    assert "This field is required" in text(response)
    assert not Amendment.objects.exists()

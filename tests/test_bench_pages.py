"""`make bench` times the pages: a tiny run keeps the command working and leaves nothing."""

import io
import re

import pytest
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse

from clinic.models import Site
from followup.models import Invitation, OutcomeEpisode, Response
from scheduling.models import Appointment

PAGES = [
    "trivial view",
    "appointment list, page 1",
    "API /api/v1/appointments/",
    "responses list",
    "survey worklist",
    "non-responder worklist",
    "recall worklist",
    "start page (nurse)",
    "day board, busy day",
    "patient page, typical",
    "patient page, busiest",
    "survey page (patient)",
    "outcomes page, one site, last 12 months",
    "outcomes page, all sites, last 12 months",
    "outcome episodes list, one site, last 12 months",
    "API /api/v1/followup/outcomes/summary/, one site-year",
    "API /api/v1/followup/outcomes/episodes/, one site-year",
]


@pytest.mark.django_db
def test_it_times_each_page_against_a_trivial_view_and_rolls_everything_back():
    out = io.StringIO()
    call_command("bench_pages", appointments=400, responses=600, rounds=2, stdout=out)
    text = out.getvalue()
    answered = int(re.search(r"Generated ([\d,]+) answered surveys", text)[1].replace(",", ""))
    assert answered >= 600
    for page in PAGES:
        assert re.search(
            rf"\| {re.escape(page)}.* \| [\d.]+ ms \| [\d.]+ ms \| \d+ \(\d+ ms\) \| [\d.]+× \|",
            text,
        ), text
    assert "Rolled back" in text
    assert re.search(r"Computed [\d,]+ outcome rows", text), text
    assert not Response.objects.exists() and not Invitation.objects.exists()
    assert not OutcomeEpisode.objects.exists()
    assert not Appointment.objects.exists()
    assert not Site.objects.filter(name__startswith="[bench]").exists()
    # The trivial view is the bench's own: the clinic does not serve it.
    with pytest.raises(NoReverseMatch):
        reverse("bench_trivial")

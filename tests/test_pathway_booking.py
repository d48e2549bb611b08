"""Booking with pathway warnings (issue 14): the front desk books Karen Jensen's repeat ESI;
the rules warn, and a booking anyway needs a reason, which is stored and shown."""

import datetime

import pytest

from scheduling.models import AppointmentEvent, PathwayOverride, PathwayRule
from scheduling.services import PathwayWarned
from tests.factories import AppointmentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.pathway_rules]


@pytest.fixture
def only_repeat_rule(db):
    """Just the ESI repeat rule on, so each test reads one warning."""
    PathwayRule.objects.exclude(code="esi-repeat-relief").update(active=False)


@pytest.fixture
def earlier_esi(calendar, patient, only_repeat_rule):
    monday = calendar["monday"]
    return AppointmentFactory(
        calendar=calendar,
        patient=patient,
        starts_at=datetime.datetime.combine(
            monday - datetime.timedelta(days=21), datetime.time(9), calendar["site"].zone
        ),
    )


def test_it_refuses_a_warned_booking_without_a_reason(book, earlier_esi):
    with pytest.raises(PathwayWarned) as refused:
        book()
    reason = refused.value.reasons[0]
    assert reason.code == "pathway_esi_repeat_relief"
    assert reason.stop == "esi-repeat-relief" and reason.overridable
    assert "no relief reported" in reason.message


def test_it_books_anyway_with_a_reason_and_stores_it(book, earlier_esi, front_desk):
    appointment = book(pathway_reason="Physician asked: relief reported by phone")
    override = PathwayOverride.objects.get(appointment=appointment)
    assert override.rule_code == "esi-repeat-relief"
    assert override.reason == "Physician asked: relief reported by phone"
    assert override.by == front_desk
    assert override.evidence[0]["appointment"] == earlier_esi.pk
    event = appointment.events.get(kind=AppointmentEvent.Kind.OVERRIDE)
    assert "esi-repeat-relief" in event.detail and "relief reported by phone" in event.detail


def test_it_books_without_a_word_when_no_rule_warns(book, only_repeat_rule):
    appointment = book()
    assert not appointment.pathway_overrides.exists()

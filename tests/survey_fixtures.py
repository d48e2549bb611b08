"""Fixtures for the patient pages and follow-up worklists: invitations, links, answers.

A test module takes the fixtures it needs by name, e.g. `invitation = survey_fixtures.invitation`.
"""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from followup.models import Alert, Invitation, Response
from followup.scoring import ODI_SECTIONS, RED_FLAGS
from followup.tokens import make_token

SURVEY_INSTRUMENTS = ["nrs", "relief", "pgic", "disability", "red_flags"]


def link(invitation, purpose="survey") -> str:
    name = {
        "survey": "survey_start",
        "confirm": "appointment_confirm",
        "reschedule": "appointment_reschedule_request",
        "unsubscribe": "unsubscribe",
    }[purpose]
    return reverse(name, args=[make_token(purpose=purpose, invitation_id=invitation.pk)])


def answers_post(**overrides) -> dict:
    """A complete survey POST for SURVEY_INSTRUMENTS with a lumbar (ODI) appointment."""
    data = {
        "nrs_current": "3",
        "nrs_average": "4",
        "nrs_worst": "6",
        "relief": "50",
        "pgic": "2",
        **{f"odi__{section_id}": "1" for section_id, _title in ODI_SECTIONS},
        **{f"red_flags__{code}": "no" for code, _label in RED_FLAGS},
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def make_invitation(appointment, **fields) -> Invitation:
    now = timezone.now()
    values = {
        "patient": appointment.patient,
        "appointment": appointment,
        "kind": Invitation.Kind.SURVEY,
        "instruments": SURVEY_INSTRUMENTS,
        "status": Invitation.Status.SENT,
        "due_at": now - datetime.timedelta(hours=2),
        "sent_at": now - datetime.timedelta(hours=2),
        "expires_at": now + datetime.timedelta(days=14),
    }
    values.update(fields)
    return Invitation.objects.create(**values)


def make_response(invitation, **fields) -> Response:
    values = {
        "invitation": invitation,
        "patient": invitation.patient,
        "answers": {"nrs_current": 3, "nrs_average": 4, "nrs_worst": 6, "pgic": 2},
        "nrs_current": 3,
        "nrs_average": 4,
        "nrs_worst": 6,
        "pgic": 2,
        "patient_rated_relief": 50,
        "percent_relief": 25,
        "odi_percent": 34,
    }
    values.update(fields)
    Invitation.objects.filter(pk=invitation.pk).update(
        status=Invitation.Status.ANSWERED, answered_at=timezone.now()
    )
    return Response.objects.create(**values)


def make_alert(response, kind=Alert.Kind.RED_FLAG, **fields) -> Alert:
    return Alert.objects.create(
        patient=response.patient, response=response, kind=kind, detail="Fever or chills", **fields
    )


@pytest.fixture
def appointment(book):
    return book(9, 0)


@pytest.fixture
def invitation(appointment):
    return make_invitation(appointment)

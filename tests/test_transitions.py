"""Every status move of the lifecycle, legal and illegal, through appointment_transition and
the appointment's page; who may make which move; the htmx status card."""

import datetime
import itertools

import pytest
from django.urls import reverse
from django.utils import timezone

from scheduling import services
from scheduling.models import TRANSITIONS, Appointment, AppointmentEvent, Status
from scheduling.services import TransitionRefused

PAIRS = list(itertools.product(Status.values, Status.values))
LEGAL = [(old, new) for old, new in PAIRS if new in TRANSITIONS[old]]
ILLEGAL = [(old, new) for old, new in PAIRS if new not in TRANSITIONS[old]]


@pytest.fixture(autouse=True)
def lifecycle_only(monkeypatch):
    """The lifecycle alone: the nursing safety guards have their own tests."""
    monkeypatch.setattr(services, "TRANSITION_GUARDS", {})


@pytest.fixture
def started(book):
    """A booked appointment whose start has just passed (so a no-show is possible)."""
    appointment = book(9, 0)
    moved = timezone.now() - datetime.timedelta(minutes=5)
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=moved,
        ends_at=moved + datetime.timedelta(minutes=45),
        recovery_starts_at=moved + datetime.timedelta(minutes=35),
        recovery_ends_at=moved + datetime.timedelta(minutes=65),
    )
    appointment.refresh_from_db()
    return appointment


def set_status(appointment, status):
    Appointment.objects.filter(pk=appointment.pk).update(
        status=status, cancel_reason="patient_request" if status == Status.CANCELLED else ""
    )


def post_move(client, appointment, to, **extra):
    data = {"to": to} | ({"reason": "patient_request"} if to == Status.CANCELLED else {}) | extra
    return client.post(reverse("appointment_transition", args=[appointment.pk]), data)


@pytest.mark.parametrize(("old", "new"), LEGAL)
def test_it_makes_every_legal_move(client, manager, started, old, new):
    set_status(started, old)
    client.force_login(manager)
    response = post_move(client, started, new)
    assert response.status_code == 302
    started.refresh_from_db()
    assert started.status == new
    event = started.events.last()
    assert (event.from_status, event.to_status, event.user) == (old, new, manager)
    assert started.history.first().status == new
    assert started.history.first().history_user == manager
    page = client.get(response.url).content.decode()
    assert f"The appointment is now {Status(new).label}." in page


@pytest.mark.parametrize(("old", "new"), ILLEGAL)
def test_it_refuses_every_illegal_move_with_a_message(client, manager, started, old, new):
    set_status(started, old)
    client.force_login(manager)
    response = post_move(client, started, new)
    started.refresh_from_db()
    assert started.status == old
    assert started.events.count() == 1  # only the booking
    page = client.get(response.url).content.decode()
    assert (
        f"An appointment that is {Status(old).label.lower()} cannot become "
        f"{Status(new).label.lower()}." in page
    )


@pytest.mark.parametrize("old", Status.values)
def test_it_offers_on_the_page_exactly_the_legal_moves(client, manager, started, old):
    set_status(started, old)
    client.force_login(manager)
    content = client.get(started.get_absolute_url()).content.decode()
    offered = {status for status in Status.values if f'name="to" value="{status}"' in content}
    # Cancelling asks for a reason on its own page, so it is a link, not a button.
    assert offered == TRANSITIONS[old] - {Status.CANCELLED}
    cancel_link = reverse("appointment_cancel", args=[started.pk]) in content
    assert cancel_link == (Status.CANCELLED in TRANSITIONS[old])


@pytest.mark.parametrize(("old", "new"), LEGAL)
def test_it_makes_every_legal_move_from_the_pages_buttons(client, manager, started, old, new):
    set_status(started, old)
    client.force_login(manager)
    if new == Status.CANCELLED:
        response = client.post(
            reverse("appointment_cancel", args=[started.pk]), {"reason": "clinical"}
        )
    else:
        content = client.get(started.get_absolute_url()).content.decode()
        action = reverse("appointment_transition", args=[started.pk])
        assert f'action="{action}"' in content
        assert f'name="to" value="{new}"' in content
        response = post_move(client, started, new, next=started.get_absolute_url())
    assert response.status_code == 302
    started.refresh_from_db()
    assert started.status == new


def test_it_refuses_an_unknown_status(client, manager, started):
    client.force_login(manager)
    response = post_move(client, started, "teleported")
    page = client.get(response.url).content.decode()
    assert "An appointment that is booked cannot become teleported." in page


def test_it_refuses_a_no_show_before_the_start(client, front_desk, book):
    appointment = book(9, 0)
    client.force_login(front_desk)
    content = client.get(appointment.get_absolute_url()).content.decode()
    assert 'value="no_show"' not in content  # not offered yet
    response = post_move(client, appointment, Status.NO_SHOW)
    page = client.get(response.url).content.decode()
    assert "only be marked as a no-show once the start time has passed" in page
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason": ""}, "Choose a reason for the cancellation."),
        ({"reason": "other"}, "Describe the reason when you choose &#x27;Other&#x27;."),
    ],
)
def test_it_needs_a_reason_to_cancel_through_the_status_endpoint(
    client, front_desk, book, data, message
):
    appointment = book(9, 0)
    client.force_login(front_desk)
    response = post_move(client, appointment, Status.CANCELLED, **data)
    assert message in client.get(response.url).content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_it_cancels_through_the_status_endpoint_with_a_reason(client, front_desk, book):
    appointment = book(9, 0)
    client.force_login(front_desk)
    post_move(client, appointment, Status.CANCELLED, reason="other", note="Moved abroad")
    appointment.refresh_from_db()
    assert (appointment.cancel_reason, appointment.cancel_note) == ("other", "Moved abroad")
    assert appointment.events.last().detail == "Other: Moved abroad"


# Who may make which move: (role, target status, allowed).
ROLE_MOVES = [
    ("front_desk", Status.CONFIRMED, True),
    ("front_desk", Status.CHECKED_IN, True),
    ("front_desk", Status.NO_SHOW, True),
    ("front_desk", Status.CANCELLED, True),
    ("front_desk", Status.IN_PROCEDURE, False),
    ("nurse", Status.CHECKED_IN, True),
    ("nurse", Status.IN_PROCEDURE, True),
    ("nurse", Status.CONFIRMED, False),
    ("nurse", Status.CANCELLED, False),
    ("nurse", Status.NO_SHOW, False),
    ("physician", Status.CHECKED_IN, True),
    ("physician", Status.IN_PROCEDURE, True),
    ("physician", Status.CANCELLED, False),
    ("manager", Status.IN_PROCEDURE, True),
    ("admin", Status.CONFIRMED, True),
    ("outsider", Status.CHECKED_IN, False),
]
START_FOR = {Status.IN_PROCEDURE: Status.CHECKED_IN}


@pytest.mark.parametrize(("role", "to", "allowed"), ROLE_MOVES)
def test_it_lets_each_role_make_only_its_moves(client, personas, started, role, to, allowed):
    set_status(started, START_FOR.get(to, Status.BOOKED))
    client.force_login(personas[role])
    response = post_move(client, started, to)
    started.refresh_from_db()
    if allowed:
        assert response.status_code == 302
        assert started.status == to
    else:
        assert response.status_code == 403
        assert started.status == START_FOR.get(to, Status.BOOKED)


def test_it_sends_anonymous_status_changes_to_the_login_page(client, started):
    response = post_move(client, started, Status.CHECKED_IN)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    started.refresh_from_db()
    assert started.status == Status.BOOKED


def test_it_only_accepts_posts_for_status_changes(client, front_desk, started):
    client.force_login(front_desk)
    url = reverse("appointment_transition", args=[started.pk])
    assert client.get(url, {"to": Status.CHECKED_IN}).status_code == 405


def test_it_answers_htmx_with_the_updated_status_card(client, nurse, started):
    client.force_login(nurse)
    url = reverse("appointment_transition", args=[started.pk])
    response = client.post(url, {"to": Status.CHECKED_IN}, headers={"HX-Request": "true"})
    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert f'id="appointment-status-{started.pk}"' in content
    assert 'data-status="checked_in"' in content
    assert f'hx-post="{url}"' in content
    assert 'name="to" value="in_procedure"' in content


def test_it_shows_a_refusal_inside_the_htmx_status_card(client, front_desk, started):
    client.force_login(front_desk)
    set_status(started, Status.COMPLETED)
    response = client.post(
        reverse("appointment_transition", args=[started.pk]),
        {"to": Status.CHECKED_IN},
        headers={"HX-Request": "true"},
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "An appointment that is completed cannot become checked in." in content
    assert 'data-status="completed"' in content


def test_it_refuses_the_second_of_two_identical_clicks(client, front_desk, started):
    client.force_login(front_desk)
    post_move(client, started, Status.CHECKED_IN)
    response = post_move(client, started, Status.CHECKED_IN)
    page = client.get(response.url).content.decode()
    assert "An appointment that is checked in cannot become checked in." in page
    assert started.events.filter(kind=AppointmentEvent.Kind.STATUS).count() == 1


def test_it_refuses_a_move_someone_else_made_first(front_desk, nurse, started):
    stale = Appointment.objects.get(pk=started.pk)
    services.appointment_transition(actor=nurse, appointment=started, to=Status.CHECKED_IN)
    with pytest.raises(TransitionRefused, match="Someone else changed this appointment"):
        services.appointment_transition(actor=front_desk, appointment=stale, to=Status.CONFIRMED)


def test_it_shows_a_safety_guards_refusal_and_passes_the_override_reason(
    client, nurse, started, monkeypatch
):
    seen = []

    def guard(appointment, actor, overrides):
        seen.append(overrides.general)
        if not overrides:
            raise TransitionRefused("The time-out has not been confirmed.")

    monkeypatch.setitem(services.TRANSITION_GUARDS, Status.IN_PROCEDURE, [guard])
    set_status(started, Status.CHECKED_IN)
    client.force_login(nurse)
    response = post_move(client, started, Status.IN_PROCEDURE)
    assert "The time-out has not been confirmed." in client.get(response.url).content.decode()
    post_move(client, started, Status.IN_PROCEDURE, override_reason="Emergency")
    started.refresh_from_db()
    assert started.status == Status.IN_PROCEDURE
    assert seen == ["", "Emergency"]
    assert "Override: Emergency" in started.events.last().detail


def test_it_returns_only_to_a_safe_next_page(client, front_desk, started):
    client.force_login(front_desk)
    response = post_move(client, started, Status.CONFIRMED, next="https://evil.example/")
    assert response.url == started.get_absolute_url()
    response = post_move(client, started, Status.CHECKED_IN, next="/appointments/")
    assert response.url == "/appointments/"

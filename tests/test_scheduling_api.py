"""The scheduling JSON API: appointments, their moves and the slot finder."""

import contextlib
import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from clinic.api_support import user_name
from clinic.models import Indication
from clinic.roles import Role
from scheduling.api import AppointmentSerializer
from scheduling.models import (
    Appointment,
    CancelReason,
    Laterality,
    PathwayOverride,
    Status,
)
from scheduling.selectors_board import card_appointments
from tests.factories import AppointmentFactory, StaffFactory, TodaysAppointmentFactory, local

LIST = "/api/v1/appointments/"
SLOTS = "/api/v1/slots/"
# Warnings name the view, or for choice sets the enum or field name.
MINE = (
    "scheduling/api.py",
    "AppointmentViewSet",
    "SlotFinderView",
    *(f"({enum})" for enum in ("ReasonEnum", "LateralityEnum", "ToEnum", "PartOfDayEnum")),
    *(f'named "{field}"' for field in ("reason", "laterality", "to", "part_of_day")),
)


def detail(appointment, verb=""):
    return f"{LIST}{appointment.pk}/" + (f"{verb}/" if verb else "")


@pytest.fixture
def api():
    return APIClient()


def as_user(api, user):
    api.force_authenticate(user)
    return api


def booking(calendar, who, **changes):
    body = {
        "patient": who.pk,
        "procedure_type": calendar["tfesi"].pk,
        "physician": calendar["physician"].pk,
        "room": calendar["fluoro"].pk,
        # No offset: read as local time at the room's site.
        "starts_at": f"{calendar['monday']}T09:00:00",
        "laterality": "left",
        "levels": "L4-L5",
    }
    return {**body, **changes}


# --- List and detail ---------------------------------------------------------------------


def test_it_lists_appointments_earliest_first(api, front_desk, book, other_patient):
    late, early = book(11, 0), book(9, 0, who=other_patient)
    response = as_user(api, front_desk).get(LIST)
    assert response.status_code == 200
    assert response.data["count"] == 2
    assert [row["id"] for row in response.data["results"]] == [early.pk, late.pk]
    row = response.data["results"][0]
    assert row["patient_name"] == "Oliver Smith"
    assert row["physician_name"] == "Peter Holm"
    assert row["recovery_bay_name"] == "Bay 1"
    assert row["status"] == "booked"


def test_it_filters_the_list(api, front_desk, book, calendar, other_patient):
    monday = calendar["monday"]
    first = book(9, 0)
    tuesday = book(9, 0, day=monday + datetime.timedelta(days=1), who=other_patient)
    as_user(api, front_desk)

    def ids(**params):
        response = api.get(LIST, params)
        assert response.status_code == 200, response.data
        return [row["id"] for row in response.data["results"]]

    assert ids(date_from=monday + datetime.timedelta(days=1)) == [tuesday.pk]
    assert ids(date_to=monday) == [first.pk]
    assert ids(patient=other_patient.pk) == [tuesday.pk]
    assert ids(site=calendar["site"].pk, physician=calendar["physician"].pk) == [
        first.pk,
        tuesday.pk,
    ]
    assert ids(procedure_type=calendar["tfesi"].pk, status="booked") == [first.pk, tuesday.pk]
    assert ids(status="cancelled") == []


def test_it_lists_from_today_unless_a_date_is_given(api, front_desk, calendar, patient):
    today = timezone.localdate()
    past = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=local(today - datetime.timedelta(days=3), 9)
    )
    ahead = AppointmentFactory(calendar=calendar, patient=patient, starts_at=local(today, 23))
    as_user(api, front_desk)

    def ids(**params):
        response = api.get(LIST, params)
        assert response.status_code == 200, response.data
        return [row["id"] for row in response.data["results"]]

    assert ids() == [ahead.pk]
    assert ids(date_from=today - datetime.timedelta(days=3)) == [past.pk, ahead.pk]
    assert ids(date_to=today) == [past.pk, ahead.pk]
    # One appointment is found by its id, whatever its day.
    assert api.get(detail(past)).status_code == 200


def test_it_explains_a_bad_filter(api, front_desk):
    response = as_user(api, front_desk).get(LIST, {"date_from": "next week", "status": "lost"})
    assert response.status_code == 400
    assert set(response.data) == {"date_from", "status"}


def test_it_lists_in_a_constant_number_of_queries(
    client, front_desk, fill_day, assert_query_count_flat
):
    client.force_login(front_desk)
    assert_query_count_flat(client, LIST, fill_day)


class DeclaredOverrideSerializer(serializers.ModelSerializer):
    """The pathway override rows as DRF's field machinery wrote them before the API
    learned to write them itself: the format the API must keep."""

    by_name = serializers.SerializerMethodField()

    class Meta:
        model = PathwayOverride
        fields = ["rule_code", "warning", "evidence", "reason", "by", "by_name", "at"]

    def get_by_name(self, override) -> str:
        return user_name(override.by) if override.by else ""


class DeclaredAppointmentSerializer(serializers.ModelSerializer):
    """The appointment rows as DRF's field machinery wrote them (see above)."""

    patient_name = serializers.CharField(source="patient.full_name", read_only=True)
    procedure_type_name = serializers.CharField(source="procedure_type.name", read_only=True)
    physician_name = serializers.SerializerMethodField()
    site_name = serializers.CharField(source="site.name", read_only=True)
    room_name = serializers.CharField(source="room.name", read_only=True)
    recovery_bay_name = serializers.CharField(
        source="recovery_bay.name", read_only=True, allow_null=True
    )
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    cancel_reason = serializers.CharField(read_only=True)
    checked_in_late = serializers.BooleanField(read_only=True)
    pathway_overrides = DeclaredOverrideSerializer(many=True, read_only=True)

    class Meta:
        model = Appointment
        fields = AppointmentSerializer.Meta.fields

    def get_physician_name(self, appointment) -> str:
        return user_name(appointment.physician)


@pytest.fixture
def varied_appointments(calendar, physician, nurse, patient, other_patient):
    """Appointments unlike each other in every field the API writes."""
    monday = calendar["monday"]
    # A physician without a full name is shown by username.
    nameless = StaffFactory(username="dr.nameless", role=Role.PHYSICIAN)
    made = AppointmentFactory.create_batch
    plain, cancelled, checked_in, overridden = (
        made(
            1,
            calendar=calendar,
            patient=patient,
            starts_at=local(monday, 8),
            recovery_bay=calendar["bay"],
            notes='Bør faste — 6 t "før"',
        )[0],
        made(
            1,
            calendar=calendar,
            patient=other_patient,
            starts_at=local(monday, 9),
            status=Status.CANCELLED,
            cancel_reason=CancelReason.PATIENT_ILL,
            cancel_note="Feber",
            laterality=Laterality.NOT_APPLICABLE,
            levels="",
        )[0],
        made(
            1,
            calendar=calendar,
            starts_at=local(monday, 10),
            physician=nameless,
            room=calendar["plain"],
            laterality=Laterality.BILATERAL,
            levels="L4-L5, L5-S1",
        )[0],
        made(1, calendar=calendar, starts_at=local(monday, 11), recovery_bay=calendar["bay"])[0],
    )
    checked_in.indication = Indication.objects.create(patient=checked_in.patient)
    checked_in.status = Status.CHECKED_IN
    checked_in.checked_in_from = Status.BOOKED
    checked_in.checked_in_at = checked_in.starts_at + datetime.timedelta(hours=2, microseconds=7)
    checked_in.save()
    for by in (physician, None):
        PathwayOverride.objects.create(
            appointment=overridden,
            rule_code="repeat-esi",
            warning="Less than 3 months since the last injection",
            evidence=[{"text": "ESI", "date": "2026-01-02", "appointment": None}],
            reason="Physician's decision",
            by=by,
        )
    return [plain, cancelled, checked_in, overridden]


@pytest.mark.parametrize("zone", [None, "UTC"])
def test_it_writes_appointments_as_the_field_machinery_did(api, nurse, varied_appointments, zone):
    as_user(api, nurse)
    with timezone.override(zone) if zone else contextlib.nullcontext():
        rows = card_appointments().prefetch_related("pathway_overrides__by")
        declared = DeclaredAppointmentSerializer(rows, many=True).data
        page = {"count": 4, "next": None, "previous": None, "results": declared}
        assert api.get(LIST).content == JSONRenderer().render(page)
        for row in rows:
            written = JSONRenderer().render(DeclaredAppointmentSerializer(row).data)
            assert api.get(detail(row)).content == written


def test_it_fetches_pathway_overrides_only_for_a_page_that_has_them(
    api, nurse, varied_appointments
):
    as_user(api, nurse)

    def override_queries(**params) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(LIST, params).status_code == 200
        return sum(q["sql"].startswith('SELECT "scheduling_pathwayoverride"') for q in captured)

    assert override_queries() == 1
    # The cancelled appointment alone: a page without overrides.
    assert override_queries(status="cancelled") == 0


def test_it_shows_one_appointment(api, nurse, book):
    appointment = book(9, 0)
    response = as_user(api, nurse).get(detail(appointment))
    assert response.status_code == 200
    assert response.data["levels"] == "L4-L5"
    assert response.data["starts_at"].startswith(f"{appointment.local_start:%Y-%m-%dT%H:%M}")


# --- Booking ------------------------------------------------------------------------------


def test_it_books_an_appointment(api, front_desk, calendar, patient):
    response = as_user(api, front_desk).post(LIST, booking(calendar, patient), format="json")
    assert response.status_code == 201, response.data
    appointment = Appointment.objects.get(pk=response.data["id"])
    assert appointment.starts_at == local(calendar["monday"], 9)
    assert appointment.created_by == front_desk
    assert response.data["ends_at"].startswith(f"{calendar['monday']}T09:45")


def test_it_accepts_a_start_with_an_offset(api, front_desk, calendar, patient):
    start = local(calendar["monday"], 10).astimezone(datetime.UTC).isoformat()
    response = as_user(api, front_desk).post(
        LIST, booking(calendar, patient, starts_at=start), format="json"
    )
    assert response.status_code == 201, response.data
    assert Appointment.objects.get().starts_at == local(calendar["monday"], 10)


def test_it_refuses_a_booking_with_reasons_and_alternatives(api, front_desk, calendar, patient):
    body = booking(calendar, patient, starts_at=f"{calendar['monday']}T15:30:00")
    response = as_user(api, front_desk).post(LIST, body, format="json")
    assert response.status_code == 409
    assert response.data["detail"].startswith("Refused: Outside opening hours")
    first = response.data["reasons"][0]
    assert first == {"code": "outside_opening_hours", "message": first["message"]}
    assert "Test Spine Centre is open" in first["message"]
    alternatives = response.data["alternatives"]
    assert alternatives
    assert set(alternatives[0]) >= {
        "starts_at",
        "ends_at",
        "room",
        "physician",
        "recovery_bay",
        "site",
    }
    assert alternatives[0]["room"] == calendar["fluoro"].pk
    assert not Appointment.objects.exists()


def test_it_refuses_a_double_booking(api, front_desk, book, calendar, other_patient):
    book(9, 0)
    body = booking(calendar, other_patient, starts_at=f"{calendar['monday']}T09:15:00")
    response = as_user(api, front_desk).post(LIST, body, format="json")
    assert response.status_code == 409
    codes = {reason["code"] for reason in response.data["reasons"]}
    assert {"room_taken", "physician_taken"} <= codes


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"levels": "L9-L10"}, "levels"),
        ({"laterality": "up"}, "laterality"),
        ({"starts_at": "monday morning"}, "starts_at"),
        ({"room": 999999}, "room"),
        ({"patient": None}, "patient"),
    ],
)
def test_it_explains_invalid_input(api, front_desk, calendar, patient, changes, field):
    response = as_user(api, front_desk).post(
        LIST, booking(calendar, patient, **changes), format="json"
    )
    assert response.status_code == 400
    assert field in response.data
    assert response.data[field][0]


def test_it_lets_only_overriders_change_the_room_time(api, front_desk, manager, calendar, patient):
    body = booking(calendar, patient, room_minutes=60)
    response = as_user(api, front_desk).post(LIST, body, format="json")
    assert response.status_code == 403
    assert "override" in response.data["detail"]
    response = as_user(api, manager).post(LIST, body, format="json")
    assert response.status_code == 201, response.data
    appointment = Appointment.objects.get()
    assert appointment.ends_at - appointment.starts_at == datetime.timedelta(minutes=60)


# --- Reschedule, cancel, status ------------------------------------------------------------


def test_it_reschedules(api, front_desk, book, calendar):
    appointment = book(9, 0)
    response = as_user(api, front_desk).post(
        detail(appointment, "reschedule"),
        {"starts_at": f"{calendar['monday']}T11:00:00", "room": calendar["fluoro"].pk},
        format="json",
    )
    assert response.status_code == 200, response.data
    appointment.refresh_from_db()
    assert appointment.starts_at == local(calendar["monday"], 11)


def test_it_refuses_a_reschedule_into_a_taken_time(api, front_desk, book, calendar, other_patient):
    book(11, 0, who=other_patient)
    appointment = book(9, 0)
    response = as_user(api, front_desk).post(
        detail(appointment, "reschedule"), {"starts_at": f"{calendar['monday']}T11:15:00"}
    )
    assert response.status_code == 409
    assert "room_taken" in {r["code"] for r in response.data["reasons"]}
    appointment.refresh_from_db()
    assert appointment.starts_at == local(calendar["monday"], 9)


def test_it_cancels_with_a_reason(api, front_desk, book):
    appointment = book(9, 0)
    as_user(api, front_desk)
    response = api.post(detail(appointment, "cancel"), {"reason": "other"})
    assert response.status_code == 400
    assert "note" in response.data
    response = api.post(detail(appointment, "cancel"), {"reason": "whim"})
    assert response.status_code == 400
    response = api.post(detail(appointment, "cancel"), {"reason": "patient_ill", "note": "flu"})
    assert response.status_code == 200
    assert response.data["status"] == "cancelled"
    assert response.data["cancel_reason"] == "patient_ill"
    response = api.post(detail(appointment, "cancel"), {"reason": "patient_ill"})
    assert response.status_code == 409
    assert "cancelled cannot become cancelled" in response.data["detail"]


def test_it_moves_through_legal_statuses_and_refuses_illegal_ones(api, nurse, calendar):
    # Today: check-in happens on the appointment's day (tests/test_checkin.py).
    appointment = TodaysAppointmentFactory(calendar=calendar, status=Status.BOOKED)
    as_user(api, nurse)
    response = api.post(detail(appointment, "transition"), {"to": "checked_in"})
    assert response.status_code == 200, response.data
    assert response.data["status"] == Status.CHECKED_IN
    response = api.post(detail(appointment, "transition"), {"to": "checked_in"})
    assert response.status_code == 409
    message = "An appointment that is checked in cannot become checked in."
    assert response.data == {
        "detail": message,
        "reasons": [{"code": "illegal_transition", "message": message}],
        "alternatives": [],
    }


def test_it_refuses_a_no_show_before_the_start(api, front_desk, book):
    appointment = book(9, 0)
    response = as_user(api, front_desk).post(detail(appointment, "transition"), {"to": "no_show"})
    assert response.status_code == 409
    assert "start time has passed" in response.data["detail"]


def test_it_sends_cancelling_to_its_own_endpoint(api, front_desk, book):
    appointment = book(9, 0)
    response = as_user(api, front_desk).post(detail(appointment, "transition"), {"to": "cancelled"})
    assert response.status_code == 400
    assert "POST a reason to the appointment's cancel endpoint" in response.data["to"][0]


# --- Slot finder ----------------------------------------------------------------------------


def test_it_finds_free_slots(api, front_desk, book, calendar):
    book(8, 0)
    response = as_user(api, front_desk).get(
        SLOTS,
        {
            "procedure_type": calendar["tfesi"].pk,
            "site": calendar["site"].pk,
            "date_from": calendar["monday"],
            "date_to": calendar["monday"],
            "limit": 3,
        },
    )
    assert response.status_code == 200, response.data
    assert len(response.data) == 3
    first = response.data[0]
    # 08:00 is taken by the booking (room and physician until 08:45).
    assert first["starts_at"].startswith(f"{calendar['monday']}T08:45")
    assert first["room"] == calendar["fluoro"].pk
    assert first["physician_name"] == "Peter Holm"
    assert first["recovery_bay"] == calendar["bay"].pk


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "procedure_type"),
        ({"date_from": "2027-02-01", "date_to": "2027-01-01"}, "date_to"),
        ({"date_from": "2027-01-01", "date_to": "2027-12-31"}, "date_to"),
        ({"part_of_day": "night"}, "part_of_day"),
        ({"limit": 0}, "limit"),
    ],
)
def test_it_explains_a_bad_slot_search(api, front_desk, calendar, params, field):
    if field != "procedure_type":
        params = {"procedure_type": calendar["tfesi"].pk, **params}
    response = as_user(api, front_desk).get(SLOTS, params)
    assert response.status_code == 400
    assert field in response.data


# --- Roles ---------------------------------------------------------------------------------


def test_it_lets_each_role_do_only_its_part(api, personas, book, calendar, patient):
    appointment = book(9, 0)
    body = booking(calendar, patient, starts_at=f"{calendar['monday']}T11:00:00")
    assert as_user(api, personas["nurse"]).post(LIST, body, format="json").status_code == 403
    assert api.post(detail(appointment, "cancel"), {"reason": "clinical"}).status_code == 403
    assert api.post(detail(appointment, "transition"), {"to": "no_show"}).status_code == 403
    assert api.get(LIST).status_code == 200
    assert as_user(api, personas["physician"]).get(SLOTS).status_code == 400  # allowed, bad query
    as_user(api, personas["outsider"])
    assert api.get(LIST).status_code == 403
    assert api.get(detail(appointment)).status_code == 403
    assert api.get(SLOTS).status_code == 403
    for verb in ("reschedule", "cancel", "transition"):
        assert api.post(detail(appointment, verb), {}).status_code == 403, verb
    assert api.post(LIST, body, format="json").status_code == 403
    anonymous = APIClient()
    assert anonymous.get(LIST).status_code == 401
    assert anonymous.get(SLOTS).status_code == 401
    assert (
        anonymous.post(detail(appointment, "transition"), {"to": "checked_in"}).status_code == 401
    )
    assert as_user(api, personas["front_desk"]).post(LIST, body, format="json").status_code == 201


# --- OpenAPI schema ------------------------------------------------------------------------


def test_it_documents_the_endpoints_without_warnings(db):
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    mine = [
        message
        for message in [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
        if any(name in message for name in MINE)
    ]
    assert mine == []
    validate_schema(schema)
    paths = schema["paths"]
    for path in (
        "/api/v1/appointments/",
        "/api/v1/appointments/{id}/",
        "/api/v1/appointments/{id}/reschedule/",
        "/api/v1/appointments/{id}/cancel/",
        "/api/v1/appointments/{id}/transition/",
        "/api/v1/slots/",
    ):
        assert path in paths, path
    create = paths["/api/v1/appointments/"]["post"]["responses"]
    assert {"201", "400", "409"} <= set(create)
    refused = create["409"]["content"]["application/json"]["schema"]["$ref"]
    assert refused.endswith("/Refusal")
    assert "409" in paths["/api/v1/appointments/{id}/transition/"]["post"]["responses"]
    list_params = {p["name"] for p in paths["/api/v1/appointments/"]["get"]["parameters"]}
    assert {"date_from", "date_to", "site", "physician", "procedure_type", "status"} <= (
        list_params
    )
    slot_params = {p["name"] for p in paths["/api/v1/slots/"]["get"]["parameters"]}
    assert {"procedure_type", "part_of_day", "limit"} <= slot_params

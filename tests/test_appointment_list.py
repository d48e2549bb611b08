"""The appointments list: filters, sorting, pagination, CSV export and a flat query count."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent
from clinic.roles import Role
from scheduling.models import Status
from tests.factories import (
    AppointmentFactory,
    OpeningHoursFactory,
    RoomFactory,
    SiteFactory,
    StaffFactory,
    appointment_maker,
    local,
    seeded,
)


@pytest.fixture
def spread(calendar, patient, other_patient):
    """Appointments differing in one thing each: day, site, physician, procedure, status."""
    monday = calendar["monday"]
    north = SiteFactory(name="North Clinic")
    OpeningHoursFactory(site=north, weekday=0)
    north_room = RoomFactory(site=north, name="North fluoro", capabilities=["fluoroscopy"])
    dr_berg = StaffFactory(
        username="dr.berg", role=Role.PHYSICIAN, first_name="Ane", last_name="Berg"
    )
    caudal = seeded("esi-caudal")

    def at(who, start, **fields):
        return AppointmentFactory(calendar=calendar, patient=who, starts_at=start, **fields)

    return {
        "base": at(patient, local(monday, 9)),
        "later": at(patient, local(monday + datetime.timedelta(days=7), 9)),
        "north": at(other_patient, local(monday, 10), site=north, room=north_room),
        "berg": at(other_patient, local(monday, 11), physician=dr_berg),
        "caudal": at(other_patient, local(monday, 13), procedure_type=caudal),
        "cancelled": at(patient, local(monday, 14), status=Status.CANCELLED),
        "north_site": north,
        "dr_berg": dr_berg,
        "caudal_type": caudal,
    }


def listed(client, **params):
    response = client.get(reverse("appointment_list"), params)
    assert response.status_code == 200
    return {row.record.pk for row in response.context["table"].paginated_rows}


def test_it_filters_by_each_criterion(client, front_desk, calendar, spread):
    client.force_login(front_desk)
    monday = calendar["monday"]
    everything = {a.pk for key, a in spread.items() if hasattr(a, "status")}
    assert listed(client) == everything
    assert listed(client, date_from=monday.isoformat(), date_to=monday.isoformat()) == (
        everything - {spread["later"].pk}
    )
    assert listed(client, date_from=(monday + datetime.timedelta(days=1)).isoformat()) == {
        spread["later"].pk
    }
    assert listed(client, site=spread["north_site"].pk) == {spread["north"].pk}
    assert listed(client, physician=spread["dr_berg"].pk) == {spread["berg"].pk}
    assert listed(client, procedure_type=spread["caudal_type"].pk) == {spread["caudal"].pk}
    assert listed(client, status="cancelled") == {spread["cancelled"].pk}
    assert listed(client, patient="MRN-0002") == {
        spread[key].pk for key in ("north", "berg", "caudal")
    }
    assert listed(client, patient="jensen", status="booked") == {
        spread["base"].pk,
        spread["later"].pk,
    }


def test_it_explains_a_bad_filter_instead_of_failing(client, front_desk, spread):
    client.force_login(front_desk)
    response = client.get(reverse("appointment_list"), {"date_from": "someday", "site": "x"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "Enter a valid date." in content
    assert "Select a valid choice." in content


def test_it_sorts_by_start_and_by_patient(client, front_desk, spread):
    client.force_login(front_desk)
    url = reverse("appointment_list")
    rows = client.get(url, {"sort": "-starts_at"}).context["table"].paginated_rows
    starts = [row.record.starts_at for row in rows]
    assert starts == sorted(starts, reverse=True)
    rows = client.get(url, {"sort": "patient"}).context["table"].paginated_rows
    names = [row.record.patient.last_name for row in rows]
    assert names == sorted(names)


def test_it_keeps_appointments_of_the_same_minute_in_one_order(
    client, front_desk, calendar, patient, spread
):
    """Rooms start at the same minute: without a tiebreak their rows could swap between pages."""
    client.force_login(front_desk)
    twin = AppointmentFactory(
        calendar=calendar,
        patient=patient,
        starts_at=spread["north"].starts_at,
        physician=spread["dr_berg"],
    )
    same_minute = sorted([spread["north"].pk, twin.pk])
    for sort, expected in (("starts_at", same_minute), ("-starts_at", same_minute[::-1])):
        table = client.get(reverse("appointment_list"), {"sort": sort}).context["table"]
        assert list(table.data.data.query.order_by)[-1].lstrip("-") == "id"
        pks = [row.record.pk for row in table.paginated_rows]
        assert [pk for pk in pks if pk in same_minute] == expected


@pytest.mark.parametrize("sort", ["status", "-status", "patient", "-physician", "room"])
def test_it_pages_a_sort_with_ties_without_losing_or_repeating_rows(
    client, front_desk, calendar, patient, sort
):
    """Thirty rows of one status, patient and physician: sorted by any of those, the database
    may return the ties in another order for each page unless the order ends on the id."""
    appointment_maker(calendar, patient)(30)
    client.force_login(front_desk)
    url = reverse("appointment_list")
    pages = [client.get(url, {"sort": sort, "page": page}).context["table"] for page in (1, 2)]
    ordering = list(pages[0].data.data.query.order_by)
    assert ordering[-1] == ("-pk" if ordering[0].startswith("-") else "pk"), ordering
    shown = [row.record.pk for table in pages for row in table.paginated_rows]
    assert len(shown) == len(set(shown)) == 30


def test_it_shows_and_sorts_by_the_procedure_and_room_names(client, front_desk, spread):
    client.force_login(front_desk)
    url = reverse("appointment_list")
    content = client.get(url).content.decode()
    assert f"<td>{spread['caudal_type'].name}</td>" in content
    assert "<td>North fluoro</td>" in content
    for sort, name_of in [
        ("procedure_type", lambda record: record.procedure_type_name),
        ("-room", lambda record: record.room_name),
    ]:
        rows = client.get(url, {"sort": sort}).context["table"].paginated_rows
        names = [name_of(row.record) for row in rows]
        assert names == sorted(names, reverse=sort.startswith("-")) and len(set(names)) > 1


def test_it_shows_site_local_times_status_badges_and_links(client, front_desk, spread):
    client.force_login(front_desk)
    content = client.get(reverse("appointment_list")).content.decode()
    assert spread["base"].get_absolute_url() in content
    assert "09:00–09:45" in content
    assert '<span class="badge fs-6 text-bg-secondary">Cancelled</span>' in content


def test_it_pages_the_list(client, front_desk, calendar, patient):
    appointment_maker(calendar, patient)(30)
    client.force_login(front_desk)
    first = client.get(reverse("appointment_list"))
    assert len(first.context["table"].paginated_rows) == 25
    second = client.get(reverse("appointment_list"), {"page": 2})
    assert len(second.context["table"].paginated_rows) == 5


def test_it_exports_the_filtered_list_as_csv(client, front_desk, spread):
    client.force_login(front_desk)
    response = client.get(reverse("appointment_list"), {"status": "cancelled", "_export": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().strip().splitlines()
    assert lines[0].startswith("Start (site time),Patient,MRN,Procedure")
    assert len(lines) == 2
    assert "Karen Jensen,MRN-0001" in lines[1]
    assert lines[1].endswith("Cancelled")
    assert "badge" not in lines[1]


def test_it_exports_nothing_while_a_filter_cannot_be_read(client, front_desk, spread):
    client.force_login(front_desk)
    response = client.get(
        reverse("appointment_list"),
        {"status": "cancelled", "date_from": "someday", "_export": "csv"},
    )
    assert response["Content-Type"].startswith("text/html")
    content = response.content.decode()
    assert "Nothing was exported: correct the filters marked below." in content
    assert "Enter a valid date." in content
    # Nothing left the clinic, so there is no export to account for.
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()
    client.get(reverse("appointment_list"), {"status": "cancelled", "_export": "csv"})
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert (event.user, event.detail) == (
        front_desk,
        "appointment list: 1 row; filter status=cancelled",
    )


def test_it_lists_in_the_same_number_of_queries_for_many_appointments(
    client, front_desk, calendar, patient, assert_query_count_flat
):
    client.force_login(front_desk)
    assert_query_count_flat(
        client, reverse("appointment_list"), appointment_maker(calendar, patient)
    )


def test_it_exports_in_the_same_number_of_queries_for_many_appointments(
    client, front_desk, calendar, patient, assert_query_count_flat
):
    client.force_login(front_desk)
    assert_query_count_flat(
        client, reverse("appointment_list"), appointment_maker(calendar, patient), _export="csv"
    )


def test_it_opens_on_today_and_shows_the_past_when_asked(client, front_desk, calendar, patient):
    today = timezone.localdate()
    past = AppointmentFactory(
        calendar=calendar,
        patient=patient,
        starts_at=local(today - datetime.timedelta(days=30), 9),
        status=Status.COMPLETED,
    )
    earlier_today = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=local(today, 0)
    )
    ahead = AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=local(calendar["monday"], 9)
    )
    client.force_login(front_desk)
    response = client.get(reverse("appointment_list"))
    assert {row.record.pk for row in response.context["table"].paginated_rows} == {
        earlier_today.pk,
        ahead.pk,
    }
    assert f'value="{today.isoformat()}"' in response.content.decode()  # "From" says so
    # An empty form sent back is the default again; any date asked for is honoured.
    assert listed(client, date_from="", date_to="") == {earlier_today.pk, ahead.pk}
    assert listed(client, date_from=(today - datetime.timedelta(days=31)).isoformat()) == {
        past.pk,
        earlier_today.pk,
        ahead.pk,
    }
    assert listed(client, date_to=(today - datetime.timedelta(days=1)).isoformat()) == {past.pk}


def test_it_labels_every_status_and_side_as_django_would():
    """Appointment's own get_status_display() and get_laterality_display() (read for every
    row and card) give Django's labels, and the stored value for an unknown one."""
    from scheduling.models import Appointment, Laterality, Status

    for field, choices in (("status", Status), ("laterality", Laterality)):
        for value in [*choices.values, "not-a-choice"]:
            appointment = Appointment(**{field: value})
            django_label = Appointment._get_FIELD_display(
                appointment, Appointment._meta.get_field(field)
            )
            assert getattr(appointment, f"get_{field}_display")() == django_label

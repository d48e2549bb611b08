"""The waitlist: adding patients, matching them to freed time, one-click offers, the list."""

import datetime
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from clinic.models import AuditEvent, ProcedureType
from scheduling.models import Appointment, Status, WaitlistEntry
from tests.factories import PatientFactory, SiteFactory, local


def waiting(patient, calendar, **fields):
    values = dict(
        patient=patient,
        procedure_type=calendar["tfesi"],
        earliest=calendar["monday"] - datetime.timedelta(days=3),
        latest=calendar["monday"] + datetime.timedelta(days=10),
    )
    return WaitlistEntry.objects.create(**(values | fields))


def new_patient(mrn, last_name="Waiting"):
    return PatientFactory(
        mrn=mrn, first_name="Wendy", last_name=last_name, date_of_birth=datetime.date(1980, 5, 5)
    )


def entry_data(calendar, who, **overrides):
    return {
        "patient": who.pk,
        "procedure_type": calendar["tfesi"].pk,
        "physician": "",
        "site": "",
        "earliest": calendar["monday"].isoformat(),
        "latest": (calendar["monday"] + datetime.timedelta(days=14)).isoformat(),
        "part_of_day": "morning",
        "notes": "Can come at short notice",
    } | overrides


def booking_for(calendar, who, entry, **overrides):
    """The booking form's POST for `who` on Monday 09:00, offered from waitlist `entry`."""
    return {
        "patient": who.pk,
        "procedure_type": calendar["tfesi"].pk,
        "physician": calendar["physician"].pk,
        "room": calendar["fluoro"].pk,
        "date": calendar["monday"].isoformat(),
        "time": "09:00",
        "laterality": "left",
        "levels": "L4-L5",
        "waitlist": entry.pk,
    } | overrides


def test_it_adds_a_patient_to_the_waitlist_from_the_patient_page(
    client, front_desk, calendar, patient
):
    client.force_login(front_desk)
    url = f"{reverse('waitlist_add')}?patient={patient.pk}"
    assert url in client.get(patient.get_absolute_url()).content.decode()
    form = client.get(url).context["form"]
    assert form["patient"].value() == str(patient.pk)
    response = client.post(reverse("waitlist_add"), entry_data(calendar, patient), follow=True)
    assert "Karen Jensen is on the waitlist for Epidural steroid injection" in (
        response.content.decode()
    )
    entry = WaitlistEntry.objects.get()
    assert (entry.state, entry.part_of_day, entry.created_by) == ("waiting", "morning", front_desk)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"latest": "2020-01-01"}, "The latest date must be on or after the earliest date."),
        (
            {"earliest": "2020-01-01", "latest": "2020-01-05"},
            "This window has already passed; choose a later date.",
        ),
        ({"earliest": "soon"}, "Enter a date as YYYY-MM-DD."),
        ({"patient": ""}, "Choose the patient: search by MRN or name."),
    ],
)
def test_it_explains_a_bad_waitlist_entry(
    client, front_desk, calendar, patient, overrides, message
):
    client.force_login(front_desk)
    response = client.post(reverse("waitlist_add"), entry_data(calendar, patient, **overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["form"]["notes"].value() == "Can come at short notice"
    assert not WaitlistEntry.objects.exists()


def test_it_refuses_a_second_waiting_entry_for_the_same_procedure(
    client, front_desk, calendar, patient
):
    waiting(patient, calendar)
    client.force_login(front_desk)
    response = client.post(reverse("waitlist_add"), entry_data(calendar, patient))
    assert "Karen Jensen is already waiting for Epidural steroid injection, transforaminal" in (
        response.content.decode()
    )
    assert WaitlistEntry.objects.count() == 1


def test_it_lists_waiting_entries_with_filters_and_csv(client, front_desk, calendar, patient):
    waiting(patient, calendar, notes="Prefers mornings")
    waiting(new_patient("W-2"), calendar, state=WaitlistEntry.State.REMOVED)
    client.force_login(front_desk)
    response = client.get(reverse("waitlist"))
    content = response.content.decode()
    assert "Karen Jensen (MRN-0001)" in content
    assert "W-2" not in content  # only waiting entries unless asked
    removed = client.get(reverse("waitlist"), {"state": "removed"}).content.decode()
    assert "W-2" in removed and "MRN-0001" not in removed
    csv = client.get(reverse("waitlist"), {"_export": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    assert "Prefers mornings" in csv.content.decode()
    by_patient = client.get(reverse("waitlist"), {"patient": "nobody"}).content.decode()
    assert "MRN-0001" not in by_patient


def test_it_lists_the_waitlist_in_the_same_number_of_queries_for_many_entries(
    client, front_desk, calendar, assert_query_count_flat
):
    made = []

    def add_rows(count):
        for _ in range(count):
            made.append(
                waiting(
                    new_patient(f"W-{len(made)}"),
                    calendar,
                    physician=calendar["physician"],
                    site=calendar["site"],
                )
            )

    client.force_login(front_desk)
    assert_query_count_flat(client, reverse("waitlist"), add_rows)


def test_it_removes_an_entry(client, front_desk, calendar, patient):
    entry = waiting(patient, calendar)
    client.force_login(front_desk)
    response = client.post(reverse("waitlist_remove", args=[entry.pk]), follow=True)
    assert "Karen Jensen was taken off the waitlist." in response.content.decode()
    entry.refresh_from_db()
    assert entry.state == WaitlistEntry.State.REMOVED
    response = client.post(reverse("waitlist_remove", args=[entry.pk]), follow=True)
    assert "This entry is no longer waiting." in response.content.decode()


def test_it_keeps_nurses_off_the_waitlist(client, nurse, calendar, patient):
    entry = waiting(patient, calendar)
    client.force_login(nurse)
    assert client.post(reverse("waitlist_remove", args=[entry.pk])).status_code == 403
    assert client.get(reverse("waitlist")).status_code == 403


def test_it_shows_matching_waiting_patients_after_a_cancel_and_books_one_in_one_click(
    client, front_desk, calendar, book, patient, other_patient
):
    freed = book(9, 0)  # Monday 09:00: a morning
    match = waiting(other_patient, calendar, part_of_day="morning", notes="Short notice OK")
    anyone = waiting(new_patient("W-ANY"), calendar, physician=calendar["physician"])
    rfa = ProcedureType.objects.get(code="rfa")
    misses = [
        waiting(new_patient("W-RFA"), calendar, procedure_type=rfa),
        waiting(
            new_patient("W-LATE"),
            calendar,
            earliest=calendar["monday"] + datetime.timedelta(days=1),
        ),
        waiting(new_patient("W-PM"), calendar, part_of_day="afternoon"),
        waiting(new_patient("W-SITE"), calendar, site=SiteFactory(name="Elsewhere")),
        waiting(new_patient("W-GONE"), calendar, state=WaitlistEntry.State.REMOVED),
        waiting(patient, calendar),  # the patient who cancelled
    ]
    client.force_login(front_desk)
    response = client.post(
        reverse("appointment_cancel", args=[freed.pk]), {"reason": "patient_request"}, follow=True
    )
    content = response.content.decode()
    assert "Waiting patients who fit this freed time" in content
    assert response.context["offers"] == [match, anyone]
    for entry in misses:
        assert entry.patient.mrn not in content.split('id="waitlist-offers"')[1]

    # "Offer this slot" opens the booking page with the patient and the freed slot.
    offer = next(a for a in response.context["offers"] if a == match)
    offer_url = content.split('id="waitlist-offers"')[1].split('href="')[1].split('"')[0]
    offer_url = offer_url.replace("&amp;", "&")
    query = parse_qs(urlparse(offer_url).query)
    assert query["patient"] == [str(other_patient.pk)]
    assert query["waitlist"] == [str(offer.pk)]
    form = client.get(offer_url).context["form"]
    assert form["time"].value() == datetime.time(9, 0)
    assert form["room"].value() == str(calendar["fluoro"].pk)
    data = {
        "patient": other_patient.pk,
        "procedure_type": calendar["tfesi"].pk,
        "physician": form["physician"].value(),
        "room": form["room"].value(),
        "date": form["date"].value().isoformat(),
        "time": "09:00",
        "laterality": "right",
        "levels": "L5-S1",
        "waitlist": form["waitlist"].value(),
    }
    assert client.post(reverse("appointment_book"), data).status_code == 302
    booked = Appointment.objects.get(patient=other_patient)
    assert booked.starts_at == local(calendar["monday"], 9)
    match.refresh_from_db()
    assert (match.state, match.appointment) == (WaitlistEntry.State.BOOKED, booked)
    anyone.refresh_from_db()
    assert anyone.state == WaitlistEntry.State.WAITING


def test_it_leaves_the_entry_waiting_when_the_offered_booking_is_refused(
    client, front_desk, calendar, book, other_patient
):
    book(9, 0)
    entry = waiting(other_patient, calendar)
    client.force_login(front_desk)
    data = booking_for(calendar, other_patient, entry, laterality="right", levels="L5-S1")
    response = client.post(reverse("appointment_book"), data)
    assert "Fluoro room is already booked from" in response.content.decode()
    # The alternatives keep the waitlist entry, so booking one still marks it.
    assert f"waitlist={entry.pk}" in response.context["alternatives"][0]["url"]
    entry.refresh_from_db()
    assert entry.state == WaitlistEntry.State.WAITING


def test_it_does_not_mark_an_entry_of_another_patient(
    client, front_desk, calendar, patient, other_patient
):
    entry = waiting(other_patient, calendar)
    client.force_login(front_desk)
    data = booking_for(calendar, patient, entry)
    assert client.post(reverse("appointment_book"), data).status_code == 302
    entry.refresh_from_db()
    assert entry.state == WaitlistEntry.State.WAITING


def test_it_offers_no_waiting_patients_for_an_appointment_that_still_holds_its_time(
    client, front_desk, calendar, book, other_patient
):
    appointment = book(9, 0)
    waiting(other_patient, calendar)
    client.force_login(front_desk)
    response = client.get(appointment.get_absolute_url())
    assert response.context["offers"] == []
    assert appointment.status == Status.BOOKED


def test_it_audits_the_waitlist_export(client, front_desk, calendar, patient):
    client.force_login(front_desk)
    client.get(reverse("waitlist"))
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()

    response = client.get(reverse("waitlist"), {"_export": "csv"})

    assert response.status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.user == front_desk
    assert event.detail.startswith("waitlist: ")
    assert event.detail.endswith("; no filter")

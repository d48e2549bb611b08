"""Front desk: duplicate patients are found before they are registered, two records of one
person are merged (front desk and manager only), the national ID is checked per country,
the search reads the formats the desk types, and new patients are booked from the board."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.urls import reverse

from clinic.models import AuditEvent, Patient, normalise_cpr
from clinic.selectors import parse_birth_date, patient_duplicates, patient_search
from clinic.services import MergeRefused, patient_merge
from scheduling.models import Appointment, WaitlistEntry
from tests.factories import PatientFactory, local, seeded

pytestmark = pytest.mark.django_db

BORN = datetime.date(1966, 5, 27)


@pytest.fixture
def anders():
    return PatientFactory(
        mrn="MRN-0100", first_name="Anders", last_name="Andersen", date_of_birth=BORN
    )


# --- national ID ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("2705661234", "270566-1234"), ("270566-1234", "270566-1234"), ("290200 4321", "290200-4321")],
)
def test_it_accepts_a_cpr_number_with_a_real_date_and_no_modulo_11(typed, stored):
    # 270566-1234 fails the modulo-11 check, which Denmark dropped in 2007.
    assert normalise_cpr(typed) == stored


@pytest.mark.parametrize(
    "typed", ["27056612", "2705661234x", "320566-1234", "271366-1234", "290201-1234"]
)
def test_it_refuses_a_cpr_number_of_the_wrong_form_or_date(typed):
    with pytest.raises(ValidationError):
        normalise_cpr(typed)


def test_it_checks_the_cpr_date_against_the_birth_date_on_the_patient_form(client, front_desk):
    client.force_login(front_desk)
    data = {
        "first_name": "Anders",
        "last_name": "Andersen",
        "date_of_birth": "1966-05-27",
        "national_id": "2805661234",
        "sex": "male",
        "preferred_language": "da",
    }
    response = client.post(reverse("patient_create"), data)
    assert "date part is 28-05-1966" in response.content.decode()
    response = client.post(reverse("patient_create"), data | {"national_id": "2705661234"})
    assert response.status_code == 302
    created = Patient.objects.get()
    assert created.national_id == "270566-1234"
    assert created.mrn  # assigned


def test_it_keeps_a_national_id_unique_by_a_named_constraint(anders):
    Patient.objects.filter(pk=anders.pk).update(national_id="270566-1234")
    with pytest.raises(IntegrityError, match="patient_national_id_unique"):
        PatientFactory(national_id="270566-1234")


def test_it_allows_many_patients_without_a_national_id(anders):
    PatientFactory(national_id="")
    assert Patient.objects.filter(national_id="").count() == 2


# --- search -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "Lund, Karin",
        "Karin Lund",
        "lund karin",
        "KL",
        "K L",
        "27-05-1966",
        "1966-05-27",
        "270566",
        "Lund 27.05.1966",
    ],
)
def test_it_finds_a_patient_by_the_formats_the_desk_types(query):
    karin = PatientFactory(first_name="Karin", last_name="Lund", date_of_birth=BORN)
    PatientFactory(first_name="Karl", last_name="Berg", date_of_birth=datetime.date(1970, 1, 2))
    assert list(patient_search(query=query)) == [karin]


def test_it_reads_a_two_digit_year_as_a_birth_year_in_the_past():
    assert parse_birth_date("010150") == datetime.date(1950, 1, 1)
    assert parse_birth_date("31-02-1966") is None


def test_it_leaves_merged_records_out_of_the_search(anders, front_desk):
    twin = PatientFactory(first_name="Anders", last_name="Andersen", date_of_birth=BORN)
    patient_merge(keep=anders, remove=twin, by=front_desk, reason="Registered twice")
    assert list(patient_search(query="Andersen")) == [anders]


# --- duplicates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("Anders", "Andersen"),
        ("andersen", "ANDERS"),
        ("Anders Peter", "Andersen"),
        ("Ánders", "Andersen"),
    ],
)
def test_it_finds_the_same_birth_date_and_a_similar_name(anders, first, last):
    found = patient_duplicates(first_name=first, last_name=last, date_of_birth=BORN)
    assert found == [anders]
    assert found[0].duplicate_reason == "same birth date and a similar name"


def test_it_finds_the_same_phone_email_or_national_id_whatever_the_name(anders):
    Patient.objects.filter(pk=anders.pk).update(
        phone="+45 11 22 33 44", email="Anders@Example.com", national_id="270566-1234"
    )
    assert patient_duplicates(first_name="X", last_name="Y", phone="+4511223344") == [anders]
    assert patient_duplicates(first_name="X", last_name="Y", email="anders@example.com") == [anders]
    assert patient_duplicates(national_id="270566-1234") == [anders]


def test_it_does_not_call_a_namesake_born_another_day_a_duplicate(anders):
    assert (
        patient_duplicates(
            first_name="Anders", last_name="Andersen", date_of_birth=datetime.date(1966, 5, 28)
        )
        == []
    )
    assert patient_duplicates(first_name="Bent", last_name="Andersen", date_of_birth=BORN) == []


def test_it_warns_before_registering_a_duplicate_and_registers_when_confirmed(
    client, front_desk, anders
):
    client.force_login(front_desk)
    data = {
        "first_name": "Anders",
        "last_name": "Andersen",
        "date_of_birth": "1966-05-27",
        "sex": "male",
        "preferred_language": "da",
    }
    response = client.post(reverse("patient_create"), data)
    content = response.content.decode()
    assert "This patient may already be registered" in content
    assert anders.get_absolute_url() in content
    assert Patient.objects.count() == 1
    assert client.post(reverse("patient_create"), data | {"confirmed": "1"}).status_code == 302
    assert Patient.objects.count() == 2


# --- merge ------------------------------------------------------------------------------


@pytest.fixture
def twin(calendar, book, anders):
    """A second record of Anders with an appointment and a waitlist entry."""
    twin = PatientFactory(
        first_name="Anders", last_name="Andersen", date_of_birth=BORN, email="a@example.com"
    )
    book(9, 0, who=twin)
    WaitlistEntry.objects.create(
        patient=twin,
        procedure_type=calendar["tfesi"],
        earliest=calendar["monday"],
        latest=calendar["monday"] + datetime.timedelta(days=30),
    )
    return twin


@pytest.mark.parametrize("who", ["front_desk", "manager"])
def test_it_lets_the_front_desk_and_a_manager_merge_two_records(
    client, personas, anders, twin, who
):
    client.force_login(personas[who])
    url = reverse("patient_merge", args=[anders.pk])
    assert twin.mrn in client.get(url, {"remove": twin.pk}).content.decode()
    response = client.post(url, {"remove": twin.mrn, "reason": "Registered twice"})
    assert response.status_code == 302
    twin.refresh_from_db()
    anders.refresh_from_db()
    assert twin.merged_into == anders and twin.merged_at is not None
    assert Appointment.objects.get().patient == anders
    assert WaitlistEntry.objects.get().patient == anders
    assert anders.email == "a@example.com"
    # Visible on both records, and audited on both.
    assert f"MRN {twin.mrn}" in client.get(anders.get_absolute_url()).content.decode()
    assert "This record was merged into" in client.get(twin.get_absolute_url()).content.decode()
    details = set(
        AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE).values_list("patient", "detail")
    )
    assert (anders.pk, f"merged {twin.mrn} into this record: Registered twice") in details
    assert (twin.pk, f"merged into {anders.mrn}: Registered twice") in details


@pytest.mark.parametrize("who", ["nurse", "physician", "outsider"])
def test_it_refuses_anyone_else_the_merge(client, personas, anders, twin, who):
    client.force_login(personas[who])
    url = reverse("patient_merge", args=[anders.pk])
    response = client.post(url, {"remove": twin.mrn, "reason": "Registered twice"})
    assert response.status_code == 403
    with pytest.raises(MergeRefused):
        patient_merge(keep=anders, remove=twin, by=personas[who], reason="Registered twice")
    twin.refresh_from_db()
    assert twin.merged_into is None


def test_it_refuses_a_merge_without_a_reason_into_itself_or_twice(front_desk, anders, twin):
    with pytest.raises(MergeRefused, match="Say why"):
        patient_merge(keep=anders, remove=twin, by=front_desk, reason=" ")
    with pytest.raises(MergeRefused, match="two different"):
        patient_merge(keep=anders, remove=anders, by=front_desk, reason="x")
    patient_merge(keep=anders, remove=twin, by=front_desk, reason="Registered twice")
    with pytest.raises(MergeRefused, match="already merged"):
        patient_merge(keep=twin, remove=anders, by=front_desk, reason="again")


def test_it_takes_the_waiting_entry_off_when_both_records_wait_for_the_procedure(
    calendar, front_desk, anders, twin
):
    WaitlistEntry.objects.create(
        patient=anders,
        procedure_type=calendar["tfesi"],
        earliest=calendar["monday"],
        latest=calendar["monday"] + datetime.timedelta(days=30),
    )
    patient_merge(keep=anders, remove=twin, by=front_desk, reason="Registered twice")
    states = sorted(WaitlistEntry.objects.filter(patient=anders).values_list("state", flat=True))
    assert states == ["removed", "waiting"]


# --- booking a new patient from the board ------------------------------------------------


def test_it_links_each_free_quarter_hour_of_the_board_to_the_booking_page(
    client, front_desk, nurse, calendar, book
):
    book(9, 0)  # 09:00-09:45 in the fluoro room
    url = f"{reverse('day_board')}?site={calendar['site'].pk}&day={calendar['monday']}"
    client.force_login(front_desk)
    content = client.get(url).content.decode()
    assert 'aria-label="Book Fluoro room at 08:45"' in content
    assert 'aria-label="Book Fluoro room at 09:30"' not in content
    assert 'aria-label="Book Plain room at 09:30"' in content
    assert 'aria-label="Book Fluoro room at 09:45"' in content
    client.force_login(nurse)  # who does not book sees no links
    assert "Book Fluoro room" not in client.get(url).content.decode()


def test_it_offers_the_first_free_times_of_each_day_on_the_week_board(
    client, front_desk, calendar, book
):
    book(8, 0)  # 08:00-08:45 in the fluoro room: the plain room is still free
    monday = calendar["monday"]
    client.force_login(front_desk)
    url = f"{reverse('week_board')}?site={calendar['site'].pk}&day={monday}"
    content = client.get(url).content.decode()
    on_monday = f"on {monday:%A} {monday.day} {monday:%B}"
    assert f'aria-label="Book Plain room at 08:00 {on_monday}"' in content
    assert f'aria-label="Book Fluoro room at 08:00 {on_monday}"' not in content


def test_it_fills_room_time_and_the_physician_in_session_from_a_slot_link(
    client, front_desk, calendar
):
    client.force_login(front_desk)
    starts = local(calendar["monday"], 9, 30)
    response = client.get(
        reverse("appointment_book"),
        {"room": calendar["fluoro"].pk, "starts_at": starts.isoformat()},
    )
    form = response.context["form"]
    assert form["time"].value().strftime("%H:%M") == "09:30"
    assert str(form["room"].value()) == str(calendar["fluoro"].pk)
    assert form["physician"].value() == calendar["physician"].pk
    assert form["laterality"].value() in ("", None)  # no default that fails the first submit


def new_patient_booking(calendar, **overrides):
    caudal = seeded("esi-caudal")
    calendar["physician"].staff_profile.credentials.add(caudal)
    return {
        "procedure_type": caudal.pk,
        "physician": calendar["physician"].pk,
        "room": calendar["fluoro"].pk,
        "date": calendar["monday"].isoformat(),
        "time": "10:00",
        "new-name": "Andersen, Anders",
        "new-date_of_birth": "1966-05-27",
        "new-contact": "anders@example.com",
    } | overrides


def test_it_registers_a_new_patient_with_the_booking(client, front_desk, calendar):
    client.force_login(front_desk)
    response = client.post(reverse("appointment_book"), new_patient_booking(calendar))
    assert response.status_code == 302
    appointment = Appointment.objects.select_related("patient").get()
    patient = appointment.patient
    assert (patient.first_name, patient.last_name, patient.email) == (
        "Anders",
        "Andersen",
        "anders@example.com",
    )
    assert AuditEvent.objects.filter(patient=patient, action=AuditEvent.Action.CREATE).exists()


def test_it_registers_no_one_when_the_booking_is_refused(client, front_desk, calendar, book):
    book(10, 0)
    client.force_login(front_desk)
    response = client.post(reverse("appointment_book"), new_patient_booking(calendar))
    assert response.status_code == 200
    assert "This cannot be booked as it stands" in response.content.decode()
    assert Patient.objects.count() == 1  # the booked patient only


def test_it_warns_of_a_duplicate_before_booking_a_new_patient(client, front_desk, calendar, anders):
    client.force_login(front_desk)
    data = new_patient_booking(calendar)
    content = client.post(reverse("appointment_book"), data).content.decode()
    assert "This patient may already be registered" in content
    assert f"?patient={anders.pk}&amp;" in content  # book for the record already there
    assert not Appointment.objects.exists()
    response = client.post(reverse("appointment_book"), data | {"new-confirmed": "1"})
    assert response.status_code == 302
    assert Patient.objects.count() == 2


def test_it_asks_for_a_patient_or_a_new_one(client, front_desk, calendar):
    client.force_login(front_desk)
    data = new_patient_booking(
        calendar, **{"new-name": "", "new-date_of_birth": "", "new-contact": ""}
    )
    content = client.post(reverse("appointment_book"), data).content.decode()
    assert "or register a new one" in content
    data = new_patient_booking(calendar, **{"new-contact": "", "new-name": "Anders"})
    response = client.post(reverse("appointment_book"), data)
    assert "Enter the first and the last name." in response.content.decode()
    assert "This field is required." in response.content.decode()
    assert not Appointment.objects.exists()


# --- reschedule and empty lists ---------------------------------------------------------


def test_it_suggests_the_next_free_times_up_front_when_rescheduling(client, front_desk, book):
    appointment = book(9, 0)
    client.force_login(front_desk)
    response = client.get(reverse("appointment_reschedule", args=[appointment.pk]))
    suggestions = response.context["suggestions"]
    assert len(suggestions) == 6
    assert "Next free times at Test Spine Centre" in response.content.decode()
    assert all(s["slot"].starts_at != appointment.starts_at for s in suggestions)
    refilled = client.get(suggestions[0]["url"]).context["form"]
    local_start = suggestions[0]["slot"].starts_at.astimezone(appointment.site.zone)
    assert refilled["time"].value() == local_start.time().replace(second=0)


@pytest.mark.parametrize(
    ("name", "params", "says"),
    [
        ("waitlist", {}, "Nobody is waiting."),
        ("patient_list", {"q": "nobody"}, "No patient matches."),
        ("appointment_list", {}, "No appointments on these days."),
        ("alert_list", {}, "Nothing to show here"),
        ("failed_sends", {}, "Nothing to show here"),
    ],
)
def test_it_says_what_an_empty_list_means_instead_of_a_bare_header(
    client, manager, name, params, says
):
    client.force_login(manager)
    content = client.get(reverse(name), params).content.decode()
    assert says in content

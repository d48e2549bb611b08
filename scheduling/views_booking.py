"""Booking pages: book, the appointment's page and its status moves, reschedule, cancel,
the appointments list and the waitlist."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST

from clinic import sites
from clinic.audit import audit_record
from clinic.decorators import permission_required
from clinic.forms import NewPatientForm
from clinic.models import AuditEvent
from clinic.selectors import patient_duplicates, patient_search
from clinic.ui import FieldGroup, render_table
from scheduling import selectors, services, services_waitlist
from scheduling.filters import AppointmentFilter, WaitlistFilter
from scheduling.forms import (
    WAITLIST_LINK_ERROR,
    BookingForm,
    CancelForm,
    DurationForm,
    RescheduleForm,
    WaitlistForm,
)
from scheduling.models import MOVABLE_STATUSES, Appointment, Status, WaitlistEntry
from scheduling.rules import day_and_time
from scheduling.slots import find_slots
from scheduling.tables import AppointmentTable, WaitlistTable

VIEW = "scheduling.view_appointment"
BOOK = ("scheduling.add_appointment", "scheduling.change_appointment")
PATIENT_OPTIONS_LIMIT = 20
RESCHEDULE_SUGGESTIONS = 6
# Refusals that belong to one field of the booking form; all others are shown above it.
FIELD_REFUSALS = {
    "side_missing": "laterality",
    "level_missing": "levels",
    "levels_too_long": "levels",
    "date_out_of_range": "date",
}


def _appointment(pk) -> Appointment:
    try:
        return selectors.appointment_get(pk=pk)
    except Appointment.DoesNotExist:
        raise Http404("No such appointment.") from None


def _alternative_links(refused, url, keep: dict) -> list[dict]:
    """Each alternative slot as a link that re-fills the form with it, keeping `keep`."""
    return _slot_links(refused.alternatives, url, keep)


def _slot_links(slots, url, keep: dict) -> list[dict]:
    links = []
    for slot in slots:
        params = keep | {
            "physician": slot.physician.pk,
            "room": slot.room.pk,
            "starts_at": slot.starts_at.isoformat(),
        }
        links.append({"slot": slot, "url": f"{url}?{urlencode(params)}"})
    return links


def _show_refusals(form, refused) -> None:
    for refusal in refused.reasons:
        if refusal.code in FIELD_REFUSALS and FIELD_REFUSALS[refusal.code] in form.fields:
            form.add_error(FIELD_REFUSALS[refusal.code], refusal.message)


@permission_required(VIEW)
def appointment_list(request):
    appointments = sites.appointments_in_scope(request.user, selectors.appointment_list_rows())
    filterset = AppointmentFilter(request.GET, queryset=appointments)
    return render_table(
        request,
        table=AppointmentTable(filterset.qs),
        filterset=filterset,
        template="scheduling/booking/appointment_list.html",
        export_name="appointments",
        export_audit="appointment list",
    )


@permission_required(*BOOK)
def appointment_book(request):
    """Book for a patient found by the search, or for a new one registered on the same page
    (warned first about records that look like the same person)."""
    new_patient = NewPatientForm(request.POST or None)
    if request.method == "POST":
        form = BookingForm(request.POST, user=request.user, new_patient=new_patient)
    else:
        form = BookingForm(initial=BookingForm.initial_from(request.GET), user=request.user)
        if request.GET.get("waitlist") and "waitlist" not in form.initial:
            messages.warning(request, WAITLIST_LINK_ERROR)
    refused, warned, duplicates = None, None, []
    if request.method == "POST" and form.is_valid():
        patient = form.cleaned_data["patient"]
        registering = patient is None and request.user.has_perm("clinic.add_patient")
        if patient is None and not registering:
            form.add_error("patient", "Choose the patient: you may not register new ones.")
        elif registering and new_patient.is_valid():
            patient = new_patient.patient()
            duplicates = patient_duplicates(
                first_name=patient.first_name,
                last_name=patient.last_name,
                date_of_birth=patient.date_of_birth,
                phone=patient.phone,
                email=patient.email,
            )
            if request.POST.get("new-confirmed"):
                duplicates = []
        if patient is not None and not duplicates and not form.errors:
            try:
                appointment = _book(request, form.cleaned_data, form.starts_at, patient)
            except services.BookingRefused as exc:
                refused = exc
                _show_refusals(form, exc)
            except services.PathwayWarned as exc:
                warned = exc
                form.ask_pathway_reason()
                audit_record(
                    request=request,
                    action=AuditEvent.Action.VIEW,
                    patient=patient if patient.pk else None,
                    detail="pathway rules at booking",
                )
            else:
                registered = " (new patient, MRN " + patient.mrn + ")" if registering else ""
                messages.success(
                    request,
                    f"Booked {appointment.procedure_type.name} for "
                    f"{appointment.patient.full_name}{registered} on "
                    f"{day_and_time(appointment.starts_at, appointment.site)}.",
                )
                return redirect(appointment)
    alternatives = []
    if refused:
        keep = {
            name: form.data.get(name)
            for name in (
                "patient",
                "procedure_type",
                "laterality",
                "levels",
                "notes",
                "room_minutes",
                "waitlist",
                "indication",
            )
            if form.data.get(name)
        }
        alternatives = _alternative_links(refused, reverse("appointment_book"), keep)
    return render(
        request,
        "scheduling/booking/book.html",
        {
            "form": form,
            "patient_fields": FieldGroup(form, ["patient"]),
            "booking_fields": FieldGroup(
                form, [name for name in form.fields if name != "patient"], main=True
            ),
            "new_patient": new_patient,
            "duplicates": duplicates,
            "slot_query": _slot_query(form),
            "refused": refused,
            "alternatives": alternatives,
            "warned": warned,
        },
    )


def _slot_query(form) -> str:
    """The booking's slot as a query string, for the duplicate warning's "book for this
    patient" links."""
    names = ("procedure_type", "physician", "room", "laterality", "levels", "notes")
    params = {name: form.data.get(name) for name in names if form.data.get(name)}
    data = getattr(form, "cleaned_data", {})
    if data.get("date") and data.get("time") and data.get("room"):
        params["starts_at"] = form.starts_at.isoformat()
    return urlencode(params)


def _book(request, data, starts_at, patient) -> Appointment:
    booking = dict(
        actor=request.user,
        procedure_type=data["procedure_type"],
        physician=data["physician"],
        room=data["room"],
        starts_at=starts_at,
        laterality=data["laterality"],
        levels=data["levels"],
        notes=data["notes"],
        room_minutes=data.get("room_minutes"),
        indication=data.get("indication"),
        pathway_reason=data.get("pathway_reason", ""),
    )
    if patient.pk is None:
        return services.appointment_book_new_patient(request=request, patient=patient, **booking)
    entry = WaitlistEntry.objects.filter(
        pk=data["waitlist"],
        patient=patient,
        procedure_type=data["procedure_type"],
        state=WaitlistEntry.State.WAITING,
    ).first()
    if entry:
        return services_waitlist.waitlist_entry_book(entry=entry, **booking)
    return services.appointment_book(patient=patient, **booking)


@permission_required("clinic.view_patient", *BOOK)
def booking_patient_options(request):
    """<option>s of the patients matching `q` (MRN or name), for the booking form's search."""
    query = request.GET.get("q", "").strip()
    patients = list(patient_search(query=query)[:PATIENT_OPTIONS_LIMIT]) if query else []
    return render(
        request,
        "scheduling/booking/_patient_options.html",
        {"patients": patients, "query": query, "limit": PATIENT_OPTIONS_LIMIT},
    )


@permission_required(VIEW)
def appointment_detail(request, pk):
    appointment = _appointment(pk)
    audit_record(
        request=request,
        action=AuditEvent.Action.VIEW,
        obj=appointment,
        patient=appointment.patient,
        detail="appointment",
    )
    offers = []
    if selectors.may_book(request.user) and appointment.starts_at > timezone.now():
        offers = selectors.waitlist_matches(appointment=appointment)
    return render(
        request,
        "scheduling/booking/detail.html",
        {
            "appointment": appointment,
            "events": selectors.appointment_events(appointment=appointment),
            "field_history": selectors.appointment_field_history(appointment=appointment),
            "offers": offers,
            "duration_form": _duration_form(request.user, appointment),
            "pathway_overrides": selectors.pathway_overrides(appointment=appointment),
        },
    )


def _duration_form(user, appointment):
    if appointment.status in MOVABLE_STATUSES and user.has_perms(
        ["scheduling.change_appointment", "scheduling.override_duration"]
    ):
        minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
        return DurationForm(initial={"room_minutes": minutes})
    return None


@require_POST
@permission_required("scheduling.change_appointment")
def appointment_transition(request, pk):
    """Move the appointment to `to`. htmx requests get the status card back, others a redirect.

    Cancelling takes `reason` (a CancelReason) and `note`; a no-show is refused before the
    start; `override_reason` goes to the safety guards of the target status.
    """
    appointment = _appointment(pk)
    to = request.POST.get("to", "")
    if to in Status.values and not selectors.may_set_status(request.user, to):
        raise PermissionDenied
    error = ""
    try:
        if to == Status.CANCELLED:
            appointment = services.appointment_cancel(
                actor=request.user,
                appointment=appointment,
                reason=request.POST.get("reason", ""),
                note=request.POST.get("note", ""),
            )
        elif to == Status.NO_SHOW:
            appointment = services.appointment_mark_no_show(
                actor=request.user, appointment=appointment
            )
        else:
            appointment = services.appointment_transition(
                actor=request.user,
                appointment=appointment,
                to=to,
                override_reason=request.POST.get("override_reason", ""),
            )
    except services.TransitionRefused as exc:
        error = str(exc)
    if request.htmx:
        return render(
            request,
            "scheduling/booking/_status_card.html",
            {"appointment": appointment, "error": error},
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"The appointment is now {appointment.get_status_display()}.")
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return redirect(next_url)
    return redirect(appointment)


@require_POST
@permission_required("scheduling.change_appointment")
def appointment_check_in_undo(request, pk):
    """Take back a mistaken check-in; answers like appointment_transition."""
    appointment = _appointment(pk)
    if not selectors.may_undo_check_in_as(request.user):
        raise PermissionDenied
    error = ""
    try:
        appointment = services.appointment_check_in_undo(
            actor=request.user, appointment=appointment
        )
    except services.TransitionRefused as exc:
        error = str(exc)
    if request.htmx:
        return render(
            request,
            "scheduling/booking/_status_card.html",
            {"appointment": appointment, "error": error},
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            f"Check-in undone: the appointment is {appointment.get_status_display().lower()} "
            "again.",
        )
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return redirect(next_url)
    return redirect(appointment)


@permission_required(*BOOK)
def appointment_reschedule(request, pk):
    appointment = _appointment(pk)
    if not selectors.may_reschedule(user=request.user, appointment=appointment):
        messages.error(
            request,
            f"A {appointment.get_status_display().lower()} appointment cannot be rescheduled.",
        )
        return redirect(appointment)
    if request.method == "POST":
        form = RescheduleForm(request.POST, user=request.user)
    else:
        initial = RescheduleForm.initial_for(appointment, request.GET)
        form = RescheduleForm(initial=initial, user=request.user)
    refused = None
    if request.method == "POST" and form.is_valid():
        before = day_and_time(appointment.starts_at, appointment.site)
        try:
            appointment = services.appointment_reschedule(
                actor=request.user,
                appointment=appointment,
                starts_at=form.starts_at,
                room=form.cleaned_data["room"],
                physician=form.cleaned_data["physician"],
                room_minutes=form.cleaned_data.get("room_minutes"),
            )
        except services.BookingRefused as exc:
            refused = exc
        else:
            messages.success(
                request,
                f"Moved from {before} to {day_and_time(appointment.starts_at, appointment.site)}.",
            )
            return redirect(appointment)
    alternatives, suggestions = [], []
    url = reverse("appointment_reschedule", args=[appointment.pk])
    if refused:
        keep = {"room_minutes": form.data["room_minutes"]} if form.data.get("room_minutes") else {}
        alternatives = _alternative_links(refused, url, keep)
    else:
        # The next free times up front, so moving rarely needs a refusal to find one.
        slots = find_slots(
            procedure_type=appointment.procedure_type,
            site=appointment.site,
            patient=appointment.patient,
            limit=RESCHEDULE_SUGGESTIONS,
        )
        suggestions = _slot_links(slots, url, {})
    return render(
        request,
        "scheduling/booking/reschedule.html",
        {
            "appointment": appointment,
            "form": form,
            "refused": refused,
            "alternatives": alternatives,
            "suggestions": suggestions,
        },
    )


@require_POST
@permission_required("scheduling.change_appointment", "scheduling.override_duration")
def appointment_duration(request, pk):
    """A physician's or manager's override of the room time, keeping the start."""
    appointment = _appointment(pk)
    form = DurationForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["room_minutes"]))
        return redirect(appointment)
    try:
        services.appointment_reschedule(
            actor=request.user,
            appointment=appointment,
            starts_at=appointment.starts_at,
            room_minutes=form.cleaned_data["room_minutes"],
        )
    except services.BookingRefused as exc:
        messages.error(request, "The room time was not changed: " + " ".join(exc.messages))
    else:
        messages.success(request, f"Room time set to {form.cleaned_data['room_minutes']} min.")
    return redirect(appointment)


@permission_required(*BOOK)
def appointment_cancel(request, pk):
    appointment = _appointment(pk)
    if not selectors.may_cancel(user=request.user, appointment=appointment):
        messages.error(
            request,
            f"A {appointment.get_status_display().lower()} appointment cannot be cancelled.",
        )
        return redirect(appointment)
    form = CancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.appointment_cancel(
                actor=request.user,
                appointment=appointment,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
            )
        except services.TransitionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Cancelled. {day_and_time(appointment.starts_at, appointment.site)} in "
                f"{appointment.room.name} is free again.",
            )
            return redirect(appointment)
    return render(
        request, "scheduling/booking/cancel.html", {"appointment": appointment, "form": form}
    )


@permission_required("scheduling.view_waitlistentry")
def waitlist(request):
    params = request.GET.copy()
    params.setdefault("state", WaitlistEntry.State.WAITING)
    filterset = WaitlistFilter(params, queryset=selectors.waitlist_entries())
    return render_table(
        request,
        table=WaitlistTable(filterset.qs),
        filterset=filterset,
        template="scheduling/booking/waitlist.html",
        export_name="waitlist",
        export_audit="waitlist",
    )


@permission_required("scheduling.add_waitlistentry")
def waitlist_add(request):
    if request.method == "POST":
        form = WaitlistForm(request.POST)
    else:
        initial = {
            name: request.GET[name]
            for name in ("patient", "procedure_type", "physician", "site")
            if request.GET.get(name)
        }
        form = WaitlistForm(initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            entry = services_waitlist.waitlist_entry_add(actor=request.user, **form.cleaned_data)
        except services_waitlist.WaitlistRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"{entry.patient.full_name} is on the waitlist for {entry.procedure_type.name}.",
            )
            return redirect("waitlist")
    return render(request, "scheduling/booking/waitlist_add.html", {"form": form})


@require_POST
@permission_required("scheduling.change_waitlistentry")
def waitlist_remove(request, pk):
    entry = get_object_or_404(WaitlistEntry.objects.select_related("patient"), pk=pk)
    if services_waitlist.waitlist_entry_remove(actor=request.user, entry=entry):
        messages.success(request, f"{entry.patient.full_name} was taken off the waitlist.")
    else:
        messages.error(request, "This entry is no longer waiting.")
    return redirect("waitlist")

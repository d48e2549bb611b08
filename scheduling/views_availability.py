"""Availability pages (sessions, leave and closures, opening hours) and the slot finder."""

import datetime
from itertools import groupby
from urllib.parse import urlencode

import django_tables2 as tables
from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic.audit import audit_record
from clinic.decorators import permission_required
from clinic.models import AuditEvent, Patient, Site
from clinic.ui import render_table
from scheduling import pathway
from scheduling.forms_availability import (
    MAX_SLOTS,
    OpeningHoursForm,
    SessionCreateForm,
    SessionFilter,
    SessionForm,
    SlotSearchForm,
    UnavailabilityFilter,
    UnavailabilityForm,
)
from scheduling.models import (
    FREED_STATUSES,
    Appointment,
    Laterality,
    PhysicianSession,
    Unavailability,
)
from scheduling.rules import normalise_levels, physician_name
from scheduling.slots import find_slots

SLOTS_SHOWN = 12
EDIT_LINK = (
    '{% if perms.scheduling.change_PERM %}<a class="btn btn-sm btn-outline-primary" '
    'href="{% url "NAME" record.pk %}">Edit</a>{% endif %}'
)


def edit_column(perm: str, url_name: str):
    return tables.TemplateColumn(
        EDIT_LINK.replace("PERM", perm).replace("NAME", url_name),
        verbose_name="",
        orderable=False,
        exclude_from_export=True,
    )


class SessionTable(tables.Table):
    physician = tables.Column(
        accessor="physician",
        order_by=("physician__last_name", "physician__first_name"),
    )
    edit = edit_column("physiciansession", "session_edit")

    class Meta:
        model = PhysicianSession
        fields = ["physician", "site", "weekday", "starts", "ends", "valid_from", "valid_until"]
        order_by = ["physician", "weekday", "starts"]

    def render_physician(self, value):
        return physician_name(value)

    def value_physician(self, value):
        return physician_name(value)


def local_day_and_time(moment, zone, *, end=False) -> str:
    """A whole-day boundary reads as the day ("end of Fri 01 Jan 2027"), others with time."""
    local = timezone.localtime(moment, zone)
    if local.time() != datetime.time(0):
        return f"{local:%a %d %b %Y %H:%M}"
    if end:
        return f"end of {local - datetime.timedelta(days=1):%a %d %b %Y}"
    return f"{local:%a %d %b %Y}"


class UnavailabilityTable(tables.Table):
    subject = tables.Column(empty_values=(), orderable=False, verbose_name="Who or what")
    starts_at = tables.Column(verbose_name="From")
    ends_at = tables.Column(verbose_name="Until")
    edit = edit_column("unavailability", "unavailability_edit")

    class Meta:
        model = Unavailability
        fields = ["subject", "reason", "starts_at", "ends_at", "note"]
        order_by = ["-starts_at"]

    def render_subject(self, record):
        if record.physician_id:
            return physician_name(record.physician)
        if record.room_id:
            return f"{record.room.name} ({record.room.site})"
        return f"{record.site} (whole site)"

    def value_subject(self, record):
        return self.render_subject(record)

    @staticmethod
    def zone(record):
        return UnavailabilityForm.zone_of(record.room, record.site)

    def render_starts_at(self, record):
        return local_day_and_time(record.starts_at, self.zone(record))

    def render_ends_at(self, record):
        return local_day_and_time(record.ends_at, self.zone(record), end=True)

    def value_starts_at(self, record):
        return timezone.localtime(record.starts_at, self.zone(record)).isoformat()

    def value_ends_at(self, record):
        return timezone.localtime(record.ends_at, self.zone(record)).isoformat()


def appointments_during(unavailability: Unavailability) -> int:
    """Active appointments that fall in a period of leave or closure (they keep their time)."""
    appointments = Appointment.objects.exclude(status__in=FREED_STATUSES).filter(
        starts_at__lt=unavailability.ends_at, ends_at__gt=unavailability.starts_at
    )
    if unavailability.physician_id:
        return appointments.filter(physician=unavailability.physician_id).count()
    if unavailability.site_id:
        return appointments.filter(site=unavailability.site_id).count()
    recovering = Q(
        recovery_bay=unavailability.room_id,
        recovery_starts_at__lt=unavailability.ends_at,
        recovery_ends_at__gt=unavailability.starts_at,
    )
    return (
        Appointment.objects.exclude(status__in=FREED_STATUSES)
        .filter(Q(pk__in=appointments.filter(room=unavailability.room_id)) | recovering)
        .count()
    )


@permission_required("scheduling.view_physiciansession")
def availability_home(request):
    sites = Site.objects.filter(active=True).prefetch_related("opening_hours")
    return render(request, "scheduling/availability/home.html", {"sites": sites})


@permission_required("scheduling.view_physiciansession")
def session_list(request):
    queryset = PhysicianSession.objects.select_related("physician", "site")
    filterset = SessionFilter(request.GET, queryset=queryset)
    return render_table(
        request,
        table=SessionTable(filterset.qs),
        filterset=filterset,
        template="scheduling/availability/session_list.html",
        export_name="physician-sessions",
    )


@permission_required("scheduling.add_physiciansession")
def session_create(request):
    initial = {
        key: request.GET[key] for key in ("physician", "site") if request.GET.get(key, "").isdigit()
    }
    initial.setdefault("valid_from", timezone.localdate())
    form = SessionCreateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        sessions = form.save()
        messages.success(request, f"{len(sessions)} weekly session(s) added.")
        return redirect("session_list")
    return render(request, "scheduling/availability/session_form.html", {"form": form})


@permission_required("scheduling.change_physiciansession")
def session_edit(request, pk):
    session = get_object_or_404(PhysicianSession, pk=pk)
    form = SessionForm(request.POST or None, instance=session)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Session saved.")
        return redirect("session_list")
    return render(
        request, "scheduling/availability/session_form.html", {"form": form, "session": session}
    )


@require_POST
@permission_required("scheduling.delete_physiciansession")
def session_delete(request, pk):
    session = get_object_or_404(PhysicianSession, pk=pk)
    session.delete()
    messages.success(request, f"Session deleted: {session}.")
    return redirect("session_list")


@permission_required("scheduling.view_unavailability")
def unavailability_list(request):
    queryset = Unavailability.objects.select_related("physician", "room__site", "site")
    filterset = UnavailabilityFilter(request.GET, queryset=queryset)
    return render_table(
        request,
        table=UnavailabilityTable(filterset.qs),
        filterset=filterset,
        template="scheduling/availability/unavailability_list.html",
        export_name="leave-and-closures",
    )


def _unavailability_form(request, unavailability, initial=None):
    form = UnavailabilityForm(request.POST or None, instance=unavailability, initial=initial)
    if request.method == "POST" and form.is_valid():
        unavailability = form.save()
        messages.success(request, f"Saved: {unavailability}.")
        affected = appointments_during(unavailability)
        if affected:
            messages.warning(
                request,
                f"{affected} booked appointment(s) fall in this period and keep their time: "
                "reschedule or cancel them.",
            )
        return redirect("unavailability_list")
    return render(
        request,
        "scheduling/availability/unavailability_form.html",
        {"form": form, "unavailability": unavailability},
    )


@permission_required("scheduling.add_unavailability")
def unavailability_create(request):
    initial = {
        key: request.GET[key]
        for key in ("physician", "room", "site")
        if request.GET.get(key, "").isdigit()
    }
    if request.GET.get("reason") in Unavailability.Reason.values:
        initial["reason"] = request.GET["reason"]
    return _unavailability_form(request, Unavailability(), initial)


@permission_required("scheduling.change_unavailability")
def unavailability_edit(request, pk):
    return _unavailability_form(request, get_object_or_404(Unavailability, pk=pk))


@require_POST
@permission_required("scheduling.delete_unavailability")
def unavailability_delete(request, pk):
    unavailability = get_object_or_404(Unavailability, pk=pk)
    unavailability.delete()
    messages.success(request, f"Deleted: {unavailability}.")
    return redirect("unavailability_list")


@permission_required("clinic.change_openinghours")
def opening_hours_edit(request, pk):
    site = get_object_or_404(Site, pk=pk)
    form = OpeningHoursForm(request.POST or None, site=site)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, f"Opening hours of {site} saved.")
            outside = form.sessions_outside()
            if outside:
                messages.warning(
                    request,
                    f"{len(outside)} physician session(s) at {site} now fall outside the "
                    "opening hours; no slots are offered in those hours: "
                    + "; ".join(str(session) for session in outside),
                )
            return redirect("availability_home")
        messages.error(request, "Nothing was saved: please correct the days marked below.")
    return render(
        request, "scheduling/availability/opening_hours_form.html", {"form": form, "site": site}
    )


def booking_url(*, slot, procedure_type, patient, extra=None) -> str:
    """The booking page, filled in with this slot (and `extra` fields, e.g. the levels)."""
    params = {
        "procedure_type": procedure_type.pk,
        "physician": slot.physician.pk,
        "room": slot.room.pk,
        "starts_at": slot.starts_at.astimezone(datetime.UTC).isoformat(),
        **(extra or {}),
    }
    if patient is not None:
        params["patient"] = patient.pk
    return f"{reverse('appointment_book')}?{urlencode(params)}"


@permission_required("scheduling.add_appointment")
def slot_finder(request):
    """The next free slots as big buttons, each opening the booking page filled in."""
    searching = "procedure_type" in request.GET
    patient_id = request.GET.get("patient", "")
    form = SlotSearchForm(
        request.GET if searching else None,
        initial={"patient": patient_id} if patient_id.isdigit() else None,
    )
    context = {
        "form": form,
        "patient": Patient.objects.filter(pk=patient_id).first() if patient_id.isdigit() else None,
    }
    if searching and form.is_valid():
        data = form.cleaned_data
        limit = data["limit"] or SLOTS_SHOWN
        slots = find_slots(
            procedure_type=data["procedure_type"],
            site=data["site"],
            physician=data["physician"],
            patient=data["patient"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            part_of_day=data["part_of_day"] or None,
            limit=limit,
        )
        extra = {k: data[k] for k in ("levels", "laterality") if data.get(k)}
        marks = pathway.slot_warnings(
            slots,
            patient=data["patient"],
            procedure_type=data["procedure_type"],
            levels=normalise_levels(data.get("levels") or ""),
            laterality=data.get("laterality") or Laterality.NOT_APPLICABLE,
        )
        if data["patient"] is not None and pathway.ENABLED:
            audit_record(
                request=request,
                action=AuditEvent.Action.VIEW,
                patient=data["patient"],
                detail="pathway rules",
            )
        offers = [
            {
                "slot": slot,
                "local_start": timezone.localtime(slot.starts_at, slot.site.zone),
                "url": booking_url(
                    slot=slot,
                    procedure_type=data["procedure_type"],
                    patient=data["patient"],
                    extra=extra,
                ),
                "warnings": marks.get(slot.starts_at, []),
            }
            for slot in slots
        ]
        more = limit + SLOTS_SHOWN
        context.update(
            searched=True,
            days=[
                (day, list(group))
                for day, group in groupby(offers, key=lambda offer: offer["local_start"].date())
            ],
            more_url=(
                f"?{urlencode({**request.GET.dict(), 'limit': more})}"
                if len(slots) == limit and more <= MAX_SLOTS
                else ""
            ),
        )
    return render(request, "scheduling/availability/slot_finder.html", context)

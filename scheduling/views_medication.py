"""The medication plan on booking pages, and the worklist of patients to phone about it."""

import datetime
from types import SimpleNamespace

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from clinic import sites
from clinic.audit import audit_record
from clinic.decorators import permission_required
from clinic.models import AuditEvent, Patient, ProcedureType
from clinic.ui import render_table
from scheduling import selectors_medication, services_medication
from scheduling.advice import medication_plans
from scheduling.filters import MedicationCallFilter
from scheduling.models import Appointment
from scheduling.tables import MedicationCallTable

VIEW = "scheduling.view_medicationcall"
MARK = "scheduling.add_medicationcall"
BOOK = ("scheduling.add_appointment", "scheduling.change_appointment")


@permission_required(VIEW, "clinic.view_patient")
def medication_calls(request):
    appointments = sites.appointments_in_scope(
        request.user, selectors_medication.medication_call_candidates()
    )
    filterset = MedicationCallFilter(request.GET, queryset=appointments)
    rows = selectors_medication.medication_call_rows(
        filterset.qs if filterset.is_valid() else appointments.none()
    )
    return render_table(
        request,
        table=MedicationCallTable(rows, request=request),
        filterset=filterset,
        template="scheduling/medication_calls.html",
        export_name="medication-calls",
        export_audit="patients to phone about their medication",
        audit_reads="medication calls",
    )


@require_POST
@permission_required(MARK)
def medication_call_mark(request, pk):
    appointment = get_object_or_404(
        sites.appointments_in_scope(request.user, Appointment.objects.select_related("patient")),
        pk=pk,
    )
    try:
        services_medication.medication_call_mark(
            appointment=appointment,
            actor=request.user,
            note=request.POST.get("note", "")[:255],
            request=request,
        )
    except services_medication.MedicationCallRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{appointment.patient.full_name} marked as phoned about their medication."
        )
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect(reverse("medication_calls"))


@permission_required("clinic.view_patient", *BOOK)
def booking_medication_plan(request):
    """The plan for the patient, procedure and date chosen so far on the booking form (htmx).

    Nothing is booked yet, so the plan is worked out on an unsaved stand-in for the
    appointment; until all three are chosen the fragment is empty."""
    plan = None
    patient = procedure_type = None
    try:
        day = datetime.date.fromisoformat(request.GET.get("date", ""))
        patient = Patient.objects.prefetch_related("medications").get(
            pk=int(request.GET.get("patient", ""))
        )
        procedure_type = ProcedureType.objects.get(pk=int(request.GET.get("procedure_type", "")))
    except (ValueError, Patient.DoesNotExist, ProcedureType.DoesNotExist):
        pass
    else:
        stand_in = SimpleNamespace(
            pk=None,
            patient=patient,
            procedure_type=procedure_type,
            local_start=datetime.datetime.combine(day, datetime.time(12)),
        )
        plan = medication_plans([stand_in]).get(None)
        audit_record(
            request=request,
            action=AuditEvent.Action.VIEW,
            obj=patient,
            patient=patient,
            detail="medication plan while booking",
        )
    return render(
        request, "scheduling/booking/_medication_plan.html", {"plan": plan, "preview": True}
    )

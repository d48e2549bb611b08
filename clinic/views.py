from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django_tables2 import RequestConfig
from django_tables2.export import TableExport

from clinic import forms, services
from clinic.audit import audit_record
from clinic.decorators import permission_required
from clinic.filters import PatientFilter, ProcedureTypeFilter
from clinic.models import AuditEvent, Patient, ProcedureType
from clinic.selectors import patient_clinical_record
from clinic.tables import PatientTable, ProcedureTypeTable

PAGE_SIZE = 25
EXPORT_FORMATS = ("csv",)


def render_table(
    request, *, table, filterset, template, export_name, export_audit="", context=None
):
    """Paginate and sort a table, or export it as CSV with ?_export=csv.

    Every export handed out is audited (who took which list out), named by `export_audit`
    or else by `export_name`; a refused export records nothing.
    """
    RequestConfig(request, paginate={"per_page": PAGE_SIZE}).configure(table)
    export_format = request.GET.get("_export")
    if filterset is not None and filterset.is_bound and not filterset.is_valid():
        # django-filter skips a filter it cannot read: exporting now would hand out
        # more rows than the user asked for.
        if export_format:
            messages.error(request, "Nothing was exported: correct the filters marked below.")
        export_format = None
    if export_format and export_format not in EXPORT_FORMATS:
        # Only CSV is offered; tablib would fail on the others (xlsx without openpyxl).
        messages.error(request, "Nothing was exported: the lists export as CSV only.")
        export_format = None
    if TableExport.is_valid_format(export_format):
        detail = export_audit or export_name
        audit_record(request=request, action=AuditEvent.Action.EXPORT, detail=detail)
        exporter = TableExport(export_format, table, exclude_columns=())
        return exporter.response(f"{export_name}.{export_format}")
    return render(request, template, {"table": table, "filter": filterset, **(context or {})})


@login_required
def home(request):
    return render(request, "clinic/home.html")


@permission_required("clinic.view_patient")
def patient_list(request):
    filterset = PatientFilter(request.GET, queryset=Patient.objects.all())
    table = PatientTable(filterset.qs)
    return render_table(
        request,
        table=table,
        filterset=filterset,
        template="clinic/patient_list.html",
        export_name="patients",
        export_audit="patient list",
    )


@permission_required("clinic.add_patient")
def patient_create(request):
    form = forms.PatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        patient = services.patient_create(request=request, form=form)
        messages.success(request, f"{patient.full_name} was registered.")
        return redirect(patient)
    return render(request, "clinic/patient_form.html", {"form": form, "patient": None})


@permission_required("clinic.view_patient")
def patient_detail(request, pk):
    patient = get_object_or_404(Patient, pk=pk)
    context = {"patient": patient}
    if request.user.has_perm("clinic.view_clinical_record"):
        context.update(patient_clinical_record(patient=patient))
        audit_record(
            request=request,
            action=AuditEvent.Action.VIEW,
            obj=patient,
            patient=patient,
            detail="clinical record",
        )
    return render(request, "clinic/patient_detail.html", context)


@permission_required("clinic.change_patient")
def patient_edit(request, pk):
    patient = get_object_or_404(Patient, pk=pk)
    form = forms.PatientForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        services.patient_update(request=request, form=form)
        messages.success(request, "Saved.")
        return redirect(patient)
    return render(request, "clinic/patient_form.html", {"form": form, "patient": patient})


@permission_required("clinic.change_clinical_record")
def patient_clinical_edit(request, pk):
    patient = get_object_or_404(Patient, pk=pk)
    data = request.POST if request.method == "POST" else None
    history_form = forms.ClinicalHistoryForm(data, instance=patient)
    medications = forms.MedicationFormSet(data, instance=patient, prefix="medications")
    allergies = forms.AllergyFormSet(data, instance=patient, prefix="allergies")
    if data is not None:
        if history_form.is_valid() and medications.is_valid() and allergies.is_valid():
            services.patient_clinical_update(
                request=request,
                history_form=history_form,
                medications=medications,
                allergies=allergies,
            )
            messages.success(request, "Clinical record saved.")
            return redirect(patient)
        messages.error(request, "Nothing was saved: please correct the fields marked below.")
    else:
        # The form shows the whole clinical record: reading it is audited like the detail page.
        audit_record(
            request=request,
            action=AuditEvent.Action.VIEW,
            obj=patient,
            patient=patient,
            detail="clinical record (edit form)",
        )
    return render(
        request,
        "clinic/patient_clinical_form.html",
        {
            "patient": patient,
            "history_form": history_form,
            "medications": medications,
            "allergies": allergies,
        },
    )


@permission_required("clinic.view_proceduretype")
def procedure_type_list(request):
    filterset = ProcedureTypeFilter(request.GET, queryset=ProcedureType.objects.all())
    return render_table(
        request,
        table=ProcedureTypeTable(filterset.qs),
        filterset=filterset,
        template="clinic/procedure_type_list.html",
        export_name="procedure-catalogue",
    )


@permission_required("clinic.view_proceduretype")
def procedure_type_detail(request, pk):
    procedure_type = get_object_or_404(ProcedureType, pk=pk)
    return render(request, "clinic/procedure_type_detail.html", {"procedure_type": procedure_type})


@permission_required("clinic.add_proceduretype")
def procedure_type_create(request):
    return _procedure_type_form(request, ProcedureType())


@permission_required("clinic.change_proceduretype")
def procedure_type_edit(request, pk):
    return _procedure_type_form(request, get_object_or_404(ProcedureType, pk=pk))


def _procedure_type_form(request, procedure_type):
    form = forms.ProcedureTypeForm(request.POST or None, instance=procedure_type)
    if request.method == "POST" and form.is_valid():
        procedure_type = form.save()
        messages.success(request, f"{procedure_type.name} saved.")
        return redirect("procedure_type_list")
    return render(request, "clinic/procedure_type_form.html", {"form": form})

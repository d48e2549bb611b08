from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from drf_spectacular.views import SpectacularSwaggerSplitView

from clinic import forms, mail, selectors, services, sites
from clinic.audit import audit_record
from clinic.decorators import permission_required
from clinic.filters import AuditEventFilter, PatientFilter, ProcedureTypeFilter
from clinic.models import AuditEvent, Indication, Patient, ProcedureType
from clinic.selectors import audit_events, patient_clinical_record, patient_duplicates
from clinic.tables import AuditEventTable, PatientTable, ProcedureTypeTable
from clinic.ui import render_table


@login_required
def home(request):
    return render(request, "clinic/home.html", {"outbox_on": mail.outbox_in_use()})


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
        audit_reads="patient list",
    )


@permission_required("clinic.add_patient")
def patient_create(request):
    """Register a patient, after a warning naming the records that may be the same person."""
    form = forms.PatientForm(request.POST or None)
    duplicates = []
    if request.method == "POST" and form.is_valid():
        if not request.POST.get("confirmed"):
            duplicates = _duplicates_of(form.instance)
        if not duplicates:
            patient = services.patient_create(request=request, patient=form.save(commit=False))
            messages.success(request, f"{patient.full_name} was registered.")
            return redirect(patient)
    return render(
        request,
        "clinic/patient_form.html",
        {"form": form, "patient": None, "duplicates": duplicates},
    )


def _duplicates_of(patient: Patient) -> list[Patient]:
    return patient_duplicates(
        first_name=patient.first_name,
        last_name=patient.last_name,
        date_of_birth=patient.date_of_birth,
        national_id=patient.national_id,
        phone=patient.phone,
        email=patient.email,
        exclude=patient,
    )


@permission_required("clinic.view_patient")
def patient_detail(request, pk):
    patient = get_object_or_404(selectors.patients_for_page(), pk=pk)
    merged_records = list(patient.merged_records.all()) if patient.has_merged_records else []
    context = {"patient": patient, "merged_records": merged_records}
    if request.user.has_perm("clinic.merge_patient") and not patient.is_merged:
        context["duplicates"] = _duplicates_of(patient)
    if request.user.has_perm("clinic.view_clinical_record"):
        # The shared patient index shows anyone's demographics; the clinical record is the
        # sites'.
        sites.patient_check(request.user, patient)
        context.update(patient_clinical_record(patient=patient))
        audit_record(
            request=request,
            action=AuditEvent.Action.VIEW,
            obj=patient,
            patient=patient,
            detail="clinical record",
        )
    return render(request, "clinic/patient_detail.html", context)


@permission_required("clinic.merge_patient")
def patient_merge(request, pk):
    """Merge a duplicate record (`remove`) into this one, after a side-by-side look."""
    keep = get_object_or_404(Patient, pk=pk)
    form = forms.PatientMergeForm(request.POST or None, keep=keep, initial=request.GET.dict())
    if request.method == "POST" and form.is_valid():
        remove = form.cleaned_data["remove"]
        try:
            services.patient_merge(
                keep=keep, remove=remove, by=request.user, reason=form.cleaned_data["reason"]
            )
        except services.MergeRefused as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(
                request, f"{remove.mrn} was merged into this record; it stays, marked merged."
            )
            return redirect(keep)
    remove = form.remove_record()
    return render(
        request, "clinic/patient_merge.html", {"form": form, "keep": keep, "remove": remove}
    )


@permission_required("clinic.change_patient")
def patient_edit(request, pk):
    patient = get_object_or_404(Patient, pk=pk)
    form = forms.PatientForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        services.patient_update(
            request=request, patient=form.save(commit=False), changed=form.changed_data
        )
        messages.success(request, "Saved.")
        return redirect(patient)
    return render(request, "clinic/patient_form.html", {"form": form, "patient": patient})


@permission_required("clinic.change_clinical_record")
def patient_clinical_edit(request, pk):
    patient = get_object_or_404(Patient, pk=pk)
    sites.patient_check(request.user, patient)
    data = request.POST if request.method == "POST" else None
    history_form = forms.ClinicalHistoryForm(data, instance=patient)
    medications = forms.MedicationFormSet(data, instance=patient, prefix="medications")
    allergies = forms.AllergyFormSet(data, instance=patient, prefix="allergies")
    if data is not None:
        if history_form.is_valid() and medications.is_valid() and allergies.is_valid():
            services.patient_clinical_update(
                request=request,
                patient=history_form.save(commit=False),
                saved=[*medications.save(commit=False), *allergies.save(commit=False)],
                deleted=[*medications.deleted_objects, *allergies.deleted_objects],
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


@permission_required("clinic.change_clinical_record")
def indication_edit(request, pk, indication_pk=None):
    """Add or change a referral: referrer, diagnosis, symptoms since, care tried, imaging."""
    patient = get_object_or_404(Patient, pk=pk)
    sites.patient_check(request.user, patient)
    indication = (
        get_object_or_404(Indication, pk=indication_pk, patient=patient)
        if indication_pk
        else Indication(patient=patient)
    )
    data = request.POST if request.method == "POST" else None
    form = forms.IndicationForm(data, instance=indication)
    care = forms.ConservativeCareFormSet(data, instance=indication, prefix="care")
    imaging = forms.ImagingFormSet(data, instance=indication, prefix="imaging")
    if data is not None:
        if form.is_valid() and care.is_valid() and imaging.is_valid():
            services.indication_save(
                request=request,
                indication=form.save(commit=False),
                saved=[*care.save(commit=False), *imaging.save(commit=False)],
                deleted=[*care.deleted_objects, *imaging.deleted_objects],
            )
            messages.success(request, "Referral saved.")
            return redirect(patient)
        messages.error(request, "Nothing was saved: please correct the fields marked below.")
    elif indication.pk:
        audit_record(
            request=request,
            action=AuditEvent.Action.VIEW,
            obj=indication,
            patient=patient,
            detail="referral and indication (edit form)",
        )
    return render(
        request,
        "clinic/indication_form.html",
        {"patient": patient, "form": form, "care": care, "imaging": imaging},
    )


@permission_required("clinic.view_diagnosis")
def diagnosis_options(request):
    """<option>s of the diagnoses matching `q` (ICD-10 code or words), for the referral form."""
    query = request.GET.get("q", "").strip()
    return render(
        request,
        "clinic/_diagnosis_options.html",
        {"diagnoses": list(selectors.diagnosis_search(query=query)), "query": query},
    )


@require_POST
@permission_required("clinic.view_patient")
def cross_site_open(request, pk):
    """Opens another site's record of a patient, for a while, with the user's reason."""
    patient = get_object_or_404(Patient, pk=pk)
    form = forms.CrossSiteForm(request.POST)
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=False):
        next_url = patient.get_absolute_url()
    if not form.is_valid():
        context = {
            "patient": patient,
            "next": next_url,
            "reason": request.POST.get("reason", ""),
            "error": " ".join(form.errors["reason"]),
            "minutes": settings.CROSS_SITE_ACCESS_MINUTES,
        }
        return render(request, "clinic/cross_site.html", context, status=400)
    sites.cross_site_access_open(
        request=request, patient=patient, reason=form.cleaned_data["reason"]
    )
    messages.warning(
        request,
        f"Another site's record is open for {settings.CROSS_SITE_ACCESS_MINUTES} minutes; "
        "what you read is recorded with your reason.",
    )
    return redirect(next_url)


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


@permission_required("clinic.view_auditevent")
def audit_list(request):
    """Who read or changed which record: Admin's (and the manager's) view of the audit trail."""
    filterset = AuditEventFilter(request.GET, queryset=audit_events())
    return render_table(
        request,
        table=AuditEventTable(filterset.qs),
        filterset=filterset,
        template="clinic/audit_list.html",
        export_name="audit-trail",
        export_audit="audit trail",
    )


# The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
_swagger_ui = SpectacularSwaggerSplitView.as_view(url_name="api_schema")


@login_required
def api_docs(request):
    """Swagger UI for staff; off in production unless API_DOCS_UI is set."""
    if not settings.API_DOCS_UI:
        raise Http404("The API documentation page is off on this server; see /api/schema/.")
    return _swagger_ui(request)


def _outbox_on():
    if not mail.outbox_in_use():
        raise Http404("The outbox exists only in debug mode with EMAIL_URL=outbox://.")


@login_required
def outbox_list(request):
    """The emails sent on this development server, newest first, their links clickable."""
    _outbox_on()
    return render(
        request,
        "clinic/outbox.html",
        {"messages_sent": mail.outbox_messages(), "folder": settings.EMAIL_OUTBOX_DIR},
    )


@login_required
def outbox_detail(request, name):
    _outbox_on()
    message = mail.outbox_message(name)
    if message is None:
        raise Http404("No such email in the outbox.")
    return render(request, "clinic/outbox_detail.html", {"message": message})

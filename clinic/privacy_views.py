"""A patient's GDPR rights: the data-subject export and anonymisation (clinic.privacy)."""

import json

from django.conf import settings
from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from clinic import sites
from clinic.decorators import permission_required
from clinic.forms_privacy import AnonymiseForm
from clinic.models import Patient
from clinic.refusals import Refused
from clinic.selectors_privacy import export_as_json, patient_export, retention_until
from clinic.services_privacy import patient_anonymise, patient_export_audit


@require_GET
@permission_required("clinic.export_patient_data")
def patient_export_view(request, pk):
    """Everything held on one patient: a printable page, or JSON with ?format=json."""
    patient = get_object_or_404(Patient, pk=pk)
    # Another site's patient opens with a reason first, as their record page does.
    sites.patient_check(request.user, patient)
    export = patient_export(patient)
    as_json = request.GET.get("format") == "json"
    patient_export_audit(
        request=request, patient=patient, export=export, format="json" if as_json else "html"
    )
    if as_json:
        body = {
            "exported_at": timezone.now().isoformat(timespec="seconds"),
            "exported_by": request.user.get_username(),
            **export_as_json(export),
        }
        response = HttpResponse(
            json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="patient-{patient.pk}.json"'
        return response
    return render(
        request,
        "clinic/privacy/export.html",
        {"patient": patient, "export": export, "exported_at": timezone.now()},
    )


@require_http_methods(["GET", "POST"])
@permission_required("clinic.anonymise_patient")
def patient_anonymise_view(request, pk):
    """Confirm with the MRN, then anonymise; a GET only shows what will happen."""
    patient = get_object_or_404(Patient, pk=pk)
    sites.patient_check(request.user, patient)
    if patient.is_anonymised:
        messages.error(
            request, f"This patient was already anonymised on {patient.anonymised_at:%Y-%m-%d}."
        )
        return redirect(patient)
    form = AnonymiseForm(request.POST or None, patient=patient)
    if request.method == "POST" and form.is_valid():
        try:
            patient_anonymise(
                actor=request.user, patient=patient, reason=form.cleaned_data["reason"]
            )
        except Refused as refusal:
            messages.error(request, str(refusal))
        else:
            messages.success(
                request,
                f"The patient is anonymised (now {patient.mrn}); the clinical record is kept.",
            )
        return redirect(patient)
    return render(
        request,
        "clinic/privacy/anonymise.html",
        {
            "patient": patient,
            "form": form,
            "retention_until": retention_until(patient),
            "retention_years": settings.PATIENT_RECORD_RETENTION_YEARS,
        },
    )

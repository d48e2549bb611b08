"""Every follow-up row of one patient; their page shows the latest (selectors_patient)."""

from django.shortcuts import get_object_or_404, render

from clinic import sites
from clinic.audit import audit_record
from clinic.decorators import permission_required
from clinic.models import AuditEvent, Patient
from followup.selectors_patient import patient_followup_rows
from followup.selectors_story import score_points


@permission_required("clinic.view_patient", "followup.view_invitation")
def patient_followup(request, pk):
    patient = get_object_or_404(Patient, pk=pk)
    context = {"patient": patient, "rows": patient_followup_rows(patient=patient)}
    # Read as on the patient's page: the scores are part of the clinical record, which is
    # the sites' and audited; the front desk sees when emails went and surveys came back.
    if request.user.has_perm("clinic.view_clinical_record"):
        sites.patient_check(request.user, patient)
        if request.user.has_perm("followup.view_response"):
            context["points"] = score_points(patient=patient)
        audit_record(
            request=request,
            action=AuditEvent.Action.VIEW,
            obj=patient,
            patient=patient,
            detail="follow-up (all rows)",
        )
    return render(request, "followup/patient_followup.html", context)

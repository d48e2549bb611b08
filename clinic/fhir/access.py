"""Who may read what through FHIR: one place, so site scoping can be added here later.

Today every staff role that may read the clinical record (nurse, physician, manager,
admin) reads every patient; the front desk and users without a role read nothing.
Site scoping (a later issue) narrows `fhir_can_read` for one patient and
`fhir_patient_scope` for searches and exports: both must then agree.
"""

from django.db.models import QuerySet

CLINICAL_READ = "clinic.view_clinical_record"


def _model_perm(model) -> str:
    # Built from the model so it follows the model when its app label changes (nursing).
    return f"{model._meta.app_label}.view_{model._meta.model_name}"


def _resource_perms() -> dict[str, list[str]]:
    from clinic.models import Patient, ProcedureType, Room, Site
    from clinic.nursing.models import ObservationRound
    from followup.models import Alert, Response
    from scheduling.models import Appointment

    patient = [CLINICAL_READ, _model_perm(Patient)]
    appointments = [*patient, _model_perm(Appointment)]
    return {
        "Patient": patient,
        "Practitioner": [CLINICAL_READ],
        "Location": [CLINICAL_READ, _model_perm(Site), _model_perm(Room)],
        "ActivityDefinition": [CLINICAL_READ, _model_perm(ProcedureType)],
        "Questionnaire": [CLINICAL_READ],
        "Appointment": appointments,
        "Procedure": appointments,
        "Observation": [*appointments, _model_perm(ObservationRound), _model_perm(Response)],
        "QuestionnaireResponse": [*patient, _model_perm(Response)],
        "Flag": [*patient, _model_perm(Alert)],
    }


def fhir_can_read(user, patient=None, resource_type: str | None = None) -> bool:
    """Whether `user` may read through FHIR at all, `resource_type` resources, and the
    record of `patient`.

    The one access check of the FHIR interface: views, $everything and $export call it.
    """
    if not (user.is_authenticated and user.is_active):
        return False
    perms = _resource_perms().get(resource_type, []) if resource_type else [CLINICAL_READ]
    return user.has_perms(perms or [CLINICAL_READ]) and _in_scope(user, patient)


def _in_scope(user, patient) -> bool:
    # Site scoping goes here: refuse a patient none of whose appointments is at a site of
    # the user's (and make fhir_patient_scope filter the same way).
    return True


def fhir_patient_scope(user, queryset: QuerySet, patient_path: str = "patient") -> QuerySet:
    """`queryset` narrowed to rows of patients `user` may read (`patient_path` leads from
    a row to its Patient; "" for Patient rows). Unscoped until sites are."""
    return queryset


def fhir_readable_types(user) -> list[str]:
    """The resource types `user` may read, for a system-wide export."""
    return [name for name in _resource_perms() if fhir_can_read(user, resource_type=name)]

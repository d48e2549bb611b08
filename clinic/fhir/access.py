"""Who may read what through FHIR, in one place.

Every staff role that may read the clinical record (nurse, physician, manager, admin)
reads the patients of their sites (clinic.sites); the front desk and users without a role
read nothing. `fhir_can_read` (one patient) and `fhir_patient_scope` (searches, exports)
agree on the sites.
"""

from django.db.models import QuerySet

from clinic import sites

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
    """A patient of the user's sites (clinic.sites); FHIR has no reason form, so another
    site's patient is read after opening their record with a reason on the pages."""
    if patient is None:
        return True
    try:
        sites.patient_check(user, patient)
    except sites.CrossSiteRefused:
        return False
    return True


def fhir_patient_scope(user, queryset: QuerySet, patient_path: str = "patient") -> QuerySet:
    """`queryset` narrowed to rows of patients `user` may read (`patient_path` leads from
    a row to its Patient; "" for Patient rows): the patients of the user's sites."""
    return sites.patients_in_scope(user, queryset, patient_path)


def fhir_readable_types(user) -> list[str]:
    """The resource types `user` may read, for a system-wide export."""
    return [name for name in _resource_perms() if fhir_can_read(user, resource_type=name)]

"""Reads behind the FHIR interface: the rows each resource type is built from.

Every queryset loads the related rows its builder in clinic.fhir.resources reads, so a
page of any size costs the same few queries.
"""

import datetime
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet

from clinic.fhir import codes
from clinic.fhir.access import fhir_patient_scope
from clinic.models import Patient, ProcedureType, Room, Site
from clinic.nursing.models import Amendment, ObservationRound
from clinic.roles import Role, group_name
from followup.models import Alert, Response
from scheduling.models import Appointment


def patients() -> QuerySet:
    return Patient.objects.all()


def practitioners() -> QuerySet:
    """Physicians: members of the physician role, and anyone an appointment names as its
    physician (a former physician stays readable behind old appointments)."""
    User = get_user_model()
    in_role = User.groups.through.objects.filter(
        user_id=OuterRef("pk"), group__name=group_name(Role.PHYSICIAN)
    )
    performs = Appointment.objects.filter(physician_id=OuterRef("pk"))
    return (
        User.objects.filter(Q(Exists(in_role)) | Q(Exists(performs)))
        .select_related("staff_profile")
        .order_by("pk")
    )


def sites() -> QuerySet:
    return Site.objects.all()


def rooms() -> QuerySet:
    return Room.objects.all()


def procedure_types() -> QuerySet:
    return ProcedureType.objects.all()


def appointments() -> QuerySet:
    return Appointment.objects.select_related(
        "patient", "physician", "procedure_type", "room", "site"
    )


def procedures() -> QuerySet:
    """Appointments whose procedure has begun: they are also a Procedure."""
    return appointments().filter(status__in=list(codes.PROCEDURE_STATUS))


def observation_rounds() -> QuerySet:
    return ObservationRound.objects.select_related("appointment", "signed_by")


def responses() -> QuerySet:
    return Response.objects.all()


def score_responses() -> QuerySet:
    """Responses with at least one score an Observation is made of."""
    has_score = Q()
    for kind in codes.PRO_KINDS:
        has_score |= Q(**{f"{kind.field}__isnull": False})
    return responses().filter(has_score)


def alerts() -> QuerySet:
    return Alert.objects.all()


@dataclass
class PatientRecord:
    """Everything the clinic holds on one patient that FHIR exports, and what it names."""

    patient: Patient
    appointments: list = field(default_factory=list)
    observation_rounds: list = field(default_factory=list)
    responses: list = field(default_factory=list)
    alerts: list = field(default_factory=list)

    @property
    def physicians(self) -> list:
        return list({a.physician_id: a.physician for a in self.appointments}.values())

    @property
    def sites(self) -> list:
        return list({a.site_id: a.site for a in self.appointments}.values())

    @property
    def rooms(self) -> list:
        return list({a.room_id: a.room for a in self.appointments}.values())

    @property
    def procedure_types(self) -> list:
        return list({a.procedure_type_id: a.procedure_type for a in self.appointments}.values())


def patient_record(patient: Patient) -> PatientRecord:
    """One patient's record, in four queries (Patient/$everything; reusable by a
    data-subject export)."""
    return PatientRecord(
        patient=patient,
        appointments=list(appointments().filter(patient=patient).order_by("starts_at", "pk")),
        observation_rounds=list(
            observation_rounds().filter(appointment__patient=patient).order_by("taken_at", "pk")
        ),
        responses=list(responses().filter(patient=patient).order_by("submitted_at", "pk")),
        alerts=list(alerts().filter(patient=patient).order_by("created_at", "pk")),
    )


# --- Bulk export: the rows of each type, changed since a time --------------------------


def _changed_rounds(since: datetime.datetime) -> Q:
    amended = Amendment.objects.filter(round_id=OuterRef("pk"), at__gte=since)
    return Q(signed_at__gte=since) | Q(Exists(amended))


def export_sources(user, since: datetime.datetime | None) -> dict[str, list[tuple]]:
    """For each exportable type: [(queryset, path from a row to its patient or None)].

    `since` keeps rows changed at or after it where we know when a row changed; types
    without a change time (practitioners, locations, the catalogue, questionnaires) are
    always exported whole.
    """

    def changed(queryset, condition):
        return queryset if since is None else queryset.filter(condition)

    def scoped(queryset, path):
        return fhir_patient_scope(user, queryset, path)

    at = since
    return {
        "Patient": [(scoped(changed(patients(), Q(updated_at__gte=at)), ""), "")],
        "Practitioner": [(practitioners(), None)],
        "Location": [(sites(), None), (rooms(), None)],
        "ActivityDefinition": [(procedure_types(), None)],
        "Appointment": [
            (scoped(changed(appointments(), Q(updated_at__gte=at)), "patient"), "patient")
        ],
        "Procedure": [(scoped(changed(procedures(), Q(updated_at__gte=at)), "patient"), "patient")],
        "Observation": [
            (
                scoped(
                    changed(observation_rounds(), _changed_rounds(at) if at else None),
                    "appointment__patient",
                ),
                "appointment__patient",
            ),
            (
                scoped(changed(score_responses(), Q(submitted_at__gte=at)), "patient"),
                "patient",
            ),
        ],
        "QuestionnaireResponse": [
            (scoped(changed(responses(), Q(submitted_at__gte=at)), "patient"), "patient")
        ],
        "Flag": [
            (
                scoped(
                    changed(alerts(), Q(created_at__gte=at) | Q(acknowledged_at__gte=at)),
                    "patient",
                ),
                "patient",
            )
        ],
        "Questionnaire": [],
    }

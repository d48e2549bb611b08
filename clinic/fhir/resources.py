"""Our records as FHIR resources, built and validated by the fhir.resources models.

Pure builders: each takes rows the selectors loaded (with their related rows) and runs no
query. Every resource is constructed through its fhir.resources class, so a missing
required element or a malformed value fails here, not in the receiving system.
"""

import datetime
import re
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from fhir.resources.R4B.activitydefinition import ActivityDefinition
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from clinic.fhir import codes
from followup import scoring
from followup.models import Instrument
from followup.red_flags import red_flag_catalogue

GENDER = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}


def _meta(updated: datetime.datetime | None) -> dict | None:
    return {"lastUpdated": updated} if updated else None


def _ref(resource_type: str, pk, display: str = "") -> dict:
    reference = {"reference": f"{resource_type}/{pk}"}
    if display:
        reference["display"] = display
    return reference


def _computable_name(code: str) -> str:
    """A name for machines, as FHIR wants it: "esi-transforaminal" -> "EsiTransforaminal"."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", code)) or "Unnamed"


def _person_name(user) -> str:
    return user.get_full_name() or user.get_username()


def patient_resource(patient) -> Patient:
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    return Patient(
        id=str(patient.pk),
        meta=_meta(patient.updated_at),
        identifier=[
            {
                "use": "usual",
                "type": {"coding": [{"system": codes.IDENTIFIER_TYPE, "code": "MR"}]},
                "system": codes.local("sid/mrn"),
                "value": patient.mrn,
            }
        ],
        active=True,
        name=[{"use": "official", "family": patient.last_name, "given": [patient.first_name]}],
        telecom=telecom or None,
        gender=GENDER.get(patient.sex, "unknown"),
        birthDate=patient.date_of_birth,
        communication=[
            {
                "language": {
                    "coding": [{"system": codes.LANGUAGE, "code": patient.preferred_language}],
                    "text": patient.get_preferred_language_display(),
                },
                "preferred": True,
            }
        ],
    )


def practitioner_resource(user) -> Practitioner:
    profile = getattr(user, "staff_profile", None)
    title = profile.title if profile else ""
    name = {"text": _person_name(user)}
    if user.last_name:
        name["family"] = user.last_name
    if user.first_name:
        name["given"] = [user.first_name]
    return Practitioner(
        id=str(user.pk),
        identifier=[{"system": codes.local("sid/staff"), "value": user.get_username()}],
        active=user.is_active,
        name=[name],
        qualification=[{"code": {"text": title}}] if title else None,
    )


def site_location(site) -> Location:
    return Location(
        id=f"site-{site.pk}",
        status="active" if site.active else "inactive",
        name=site.name,
        mode="instance",
        telecom=[{"system": "phone", "value": site.phone}] if site.phone else None,
        address={"text": site.address} if site.address else None,
        physicalType={
            "coding": [{"system": codes.LOCATION_PHYSICAL_TYPE, "code": "si", "display": "Site"}]
        },
    )


def room_location(room) -> Location:
    description = room.get_kind_display()
    if room.capabilities:
        description += f": {room.get_capabilities_display()}"
    return Location(
        id=f"room-{room.pk}",
        status="active" if room.active else "inactive",
        name=room.name,
        description=description,
        mode="instance",
        physicalType={
            "coding": [{"system": codes.LOCATION_PHYSICAL_TYPE, "code": "ro", "display": "Room"}]
        },
        partOf=_ref("Location", f"site-{room.site_id}"),
    )


def procedure_code(procedure_type) -> dict:
    return {
        "coding": [
            {
                "system": codes.local("CodeSystem/procedure"),
                "code": procedure_type.code,
                "display": procedure_type.name,
            }
        ],
        "text": procedure_type.name,
    }


def activity_definition_url(procedure_type) -> str:
    return codes.local(f"ActivityDefinition/{procedure_type.code}")


def _region_sites(regions) -> list[dict]:
    sites = []
    for region in regions:
        if region in codes.REGION:
            code, display = codes.REGION[region]
            sites.append({"coding": [{"system": codes.SNOMED, "code": code, "display": display}]})
        else:
            sites.append({"text": region.capitalize()})
    return sites


def activity_definition(procedure_type) -> ActivityDefinition:
    details = [
        procedure_type.get_category_display(),
        f"bleeding risk {procedure_type.get_bleeding_risk_display().lower()}",
        procedure_type.get_typical_sedation_display().lower(),
    ]
    if procedure_type.required_capabilities:
        details.append(f"needs {procedure_type.get_required_capabilities_display()}")
    return ActivityDefinition(
        id=str(procedure_type.pk),
        url=activity_definition_url(procedure_type),
        name=_computable_name(procedure_type.code),
        title=procedure_type.name,
        status="active" if procedure_type.active else "retired",
        description="; ".join(details),
        kind="Procedure",
        code=procedure_code(procedure_type),
        timingDuration={
            "value": procedure_type.procedure_minutes,
            "unit": "min",
            "system": codes.UCUM,
            "code": "min",
        },
        bodySite=_region_sites(procedure_type.regions) or None,
    )


def _appointment_text(appointment) -> str:
    side_and_level = appointment.side_and_level
    name = appointment.procedure_type.name
    return f"{name} ({side_and_level})" if side_and_level else name


def appointment_resource(appointment) -> Appointment:
    patient = appointment.patient
    physician = appointment.physician
    participants = [
        {"actor": _ref("Patient", patient.pk, patient.full_name), "status": "accepted"},
        {
            "type": [{"coding": [{"system": codes.PARTICIPATION_TYPE, "code": "PPRF"}]}],
            "actor": _ref("Practitioner", physician.pk, _person_name(physician)),
            "status": "accepted",
        },
        {
            "actor": _ref("Location", f"room-{appointment.room_id}", appointment.room.name),
            "status": "accepted",
        },
        {
            "actor": _ref("Location", f"site-{appointment.site_id}", appointment.site.name),
            "status": "accepted",
        },
    ]
    cancelled = appointment.status == "cancelled"
    minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    return Appointment(
        id=str(appointment.pk),
        meta=_meta(appointment.updated_at),
        status=codes.APPOINTMENT_STATUS[appointment.status],
        cancelationReason=(
            {"text": appointment.get_cancel_reason_display()} if cancelled else None
        ),
        serviceType=[procedure_code(appointment.procedure_type)],
        description=_appointment_text(appointment),
        start=appointment.starts_at,
        end=appointment.ends_at,
        minutesDuration=minutes,
        created=appointment.created_at,
        comment=appointment.notes or None,
        participant=participants,
    )


def _body_sites(appointment) -> list[dict]:
    """One bodySite per spinal level (SNOMED where the level has a code), with laterality
    as a SNOMED qualifier in an extension; the region when no level was given."""
    laterality = codes.LATERALITY.get(appointment.laterality)
    extension = None
    if laterality:
        extension = [
            {
                "url": codes.local("StructureDefinition/laterality"),
                "valueCodeableConcept": {
                    "coding": [
                        {"system": codes.SNOMED, "code": laterality[0], "display": laterality[1]}
                    ]
                },
            }
        ]
    side = f"{appointment.get_laterality_display()} " if laterality else ""
    levels = [level.strip().upper() for level in appointment.levels.split(",") if level.strip()]
    if levels:
        sites = []
        for level in levels:
            site = {"text": f"{side}{level}"}
            known = codes.level_code(level)
            if known:
                site["coding"] = [{"system": codes.SNOMED, "code": known[0], "display": known[1]}]
            sites.append(site)
    else:
        sites = _region_sites(appointment.procedure_type.regions)
        for site in sites:
            region = site.get("text") or site["coding"][0]["display"]
            site["text"] = f"{side}{region}".strip()
    if extension:
        for site in sites:
            site["extension"] = extension
    return sites


def procedure_resource(appointment) -> Procedure:
    """The procedure of an appointment that has begun; performed = the booked room time."""
    return Procedure(
        id=str(appointment.pk),
        identifier=[{"system": codes.local("sid/appointment"), "value": str(appointment.pk)}],
        instantiatesCanonical=[activity_definition_url(appointment.procedure_type)],
        status=codes.PROCEDURE_STATUS[appointment.status],
        code=procedure_code(appointment.procedure_type),
        subject=_ref("Patient", appointment.patient_id, appointment.patient.full_name),
        performedPeriod={"start": appointment.starts_at, "end": appointment.ends_at},
        performer=[
            {
                "actor": _ref(
                    "Practitioner", appointment.physician_id, _person_name(appointment.physician)
                )
            }
        ],
        location=_ref("Location", f"room-{appointment.room_id}", appointment.room.name),
        bodySite=_body_sites(appointment) or None,
    )


def _category(code: str) -> list[dict]:
    return [{"coding": [{"system": codes.OBSERVATION_CATEGORY, "code": code}]}]


def _observation(kind, *, id, patient_id, effective, value, performer=None, **extra):
    values = {"valueInteger": value} if isinstance(value, int) else {}
    if kind.unit:
        values = {
            "valueQuantity": {
                "value": value,
                "unit": kind.unit,
                "system": codes.UCUM,
                "code": kind.unit,
            }
        }
    return Observation(
        id=id,
        status="final",
        category=_category(kind.category),
        code={"coding": kind.codings, "text": kind.display},
        subject=_ref("Patient", patient_id),
        effectiveDateTime=effective,
        performer=performer,
        **values,
        **extra,
    )


def round_observation_id(round_pk, kind) -> str:
    return f"round-{round_pk}-{kind.slug}"


def round_observations(round, kinds=codes.ROUND_KINDS) -> list[Observation]:
    """The vital signs of one nursing observation round and its NEWS2, in `kinds` order."""
    patient_id = round.appointment.patient_id
    performer = [{"display": _person_name(round.signed_by)}]
    observations = []
    for kind in kinds:
        value = getattr(round, kind.field)
        extra = {}
        if kind.slug == "news2":
            extra["interpretation"] = [{"text": f"NEWS2 clinical risk: {round.news2_risk}"}]
            extra["derivedFrom"] = [
                _ref("Observation", round_observation_id(round.pk, other))
                for other in codes.ROUND_KINDS
                if other.slug not in ("news2", "bp-diastolic")
            ]
        elif kind.slug == "spo2" and round.on_oxygen:
            extra["note"] = [{"text": f"On oxygen (SpO2 scale {round.spo2_scale})"}]
        observations.append(
            _observation(
                kind,
                id=round_observation_id(round.pk, kind),
                patient_id=patient_id,
                effective=round.taken_at,
                value=value,
                performer=performer,
                **extra,
            )
        )
    return observations


def response_observation_id(response_pk, kind) -> str:
    return f"pro-{response_pk}-{kind.slug}"


PGIC_LABELS = dict(scoring.PGIC_CHOICES)


def response_kinds(response, kinds=codes.PRO_KINDS) -> list:
    """The score kinds a follow-up response has a value for."""
    return [kind for kind in kinds if getattr(response, kind.field) is not None]


def response_observations(response, kinds=codes.PRO_KINDS) -> list[Observation]:
    """The patient-reported scores of one answered survey (NRS, ODI, NDI, PGIC)."""
    observations = []
    for kind in response_kinds(response, kinds):
        value = getattr(response, kind.field)
        extra = {}
        if isinstance(value, Decimal):
            extra["interpretation"] = [
                {
                    "text": scoring.odi_band(value)
                    if kind.slug == "odi"
                    else scoring.ndi_band(value / 2)
                }
            ]
            value = value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        elif kind.slug == "pgic":
            extra["interpretation"] = [{"text": PGIC_LABELS.get(value, "")}]
        instrument = "nrs" if kind.slug.startswith("nrs") else kind.slug
        if instrument in response_instruments(response):
            qid = codes.QUESTIONNAIRE_IDS[instrument]
            extra["derivedFrom"] = [_ref("QuestionnaireResponse", f"{response.pk}-{qid}")]
        observations.append(
            _observation(
                kind,
                id=response_observation_id(response.pk, kind),
                patient_id=response.patient_id,
                effective=response.submitted_at,
                value=value,
                performer=[_ref("Patient", response.patient_id)],
                **extra,
            )
        )
    return observations


# --- Questionnaires: item ids and titles only, never the licensed ODI/NDI wording ---------

NRS_ITEMS = (
    ("nrs_current", "Pain now (0-10)"),
    ("nrs_average", "Average pain (0-10)"),
    ("nrs_worst", "Worst pain (0-10)"),
)


def _instrument_items(instrument: str) -> list[dict]:
    """(linkId, text, type, extra) of an instrument's items, in order."""
    if instrument == "nrs":
        return [{"linkId": key, "text": text, "type": "integer"} for key, text in NRS_ITEMS]
    if instrument == "pgic":
        return [
            {
                "linkId": "pgic",
                "text": "Patient Global Impression of Change",
                "type": "choice",
                "answerOption": [
                    {
                        "valueCoding": {
                            "system": codes.local("CodeSystem/pgic"),
                            "code": str(value),
                            "display": label,
                        }
                    }
                    for value, label in scoring.PGIC_CHOICES
                ],
            }
        ]
    if instrument == "relief":
        return [{"linkId": "relief", "text": "Relief of usual pain (%)", "type": "integer"}]
    if instrument in ("odi", "ndi"):
        sections = scoring.ODI_SECTIONS if instrument == "odi" else scoring.NDI_SECTIONS
        # Section titles only: the item wording is copyright and is not exported.
        return [
            {"linkId": section_id, "text": title, "type": "integer"}
            for section_id, title in sections
        ]
    if instrument == "red_flags":
        # Every region's questions (and codes answered before the screen went by region),
        # so any stored response exports against the one Questionnaire.
        return [
            {"linkId": code, "text": label, "type": "boolean"}
            for code, label in red_flag_catalogue()
        ]
    if instrument == "diary":
        return [
            {"linkId": str(minutes), "text": f"Pain {minutes} minutes after", "type": "integer"}
            for minutes in settings.FOLLOWUP_DIARY_OFFSETS_MINUTES
        ]
    raise KeyError(instrument)


def questionnaire_url(instrument: str) -> str:
    return codes.local(f"Questionnaire/{codes.QUESTIONNAIRE_IDS[instrument]}")


def questionnaire_resource(instrument: str) -> Questionnaire:
    qid = codes.QUESTIONNAIRE_IDS[instrument]
    licensed = instrument in ("odi", "ndi")
    return Questionnaire(
        id=qid,
        url=questionnaire_url(instrument),
        name=_computable_name(qid),
        title=Instrument(instrument).label,
        status="active",
        subjectType=["Patient"],
        description=(
            "Section ids and titles only: the item wording is copyright and licensed "
            "separately, so it is not exported."
            if licensed
            else None
        ),
        item=_instrument_items(instrument),
    )


def _answer_items(instrument: str, answers: dict) -> list[dict]:
    texts = {item["linkId"]: item["text"] for item in _instrument_items(instrument)}
    if instrument == "nrs":
        given = {key: answers.get(key) for key, _text in NRS_ITEMS}
    elif instrument in ("pgic", "relief"):
        given = {instrument: answers.get(instrument)}
    else:
        given = answers.get(instrument) or {}
    items = []
    for link_id, text in texts.items():
        value = given.get(link_id)
        if value is None:
            continue  # a skipped item has no answer, and FHIR wants none rather than empty
        if isinstance(value, bool):
            answer = {"valueBoolean": value}
        elif instrument == "pgic":
            answer = {
                "valueCoding": {
                    "system": codes.local("CodeSystem/pgic"),
                    "code": str(value),
                    "display": PGIC_LABELS.get(value, ""),
                }
            }
        else:
            answer = {"valueInteger": int(value)}
        items.append({"linkId": link_id, "text": text, "answer": [answer]})
    return items


def answer_keys(instrument: str) -> list[str]:
    """The keys of Response.answers that hold an instrument's answers."""
    return [key for key, _text in NRS_ITEMS] if instrument == "nrs" else [instrument]


def response_instruments(response) -> list[str]:
    """The instruments a stored response answered, in a fixed order."""
    answers = response.answers or {}
    return [
        instrument
        for instrument in codes.QUESTIONNAIRE_IDS
        if any(answers.get(key) is not None for key in answer_keys(instrument))
    ]


def questionnaire_responses(response) -> list[QuestionnaireResponse]:
    """One QuestionnaireResponse per instrument of an answered survey (ids "<pk>-<qid>"),
    sharing the survey's identifier."""
    resources = []
    for instrument in response_instruments(response):
        items = _answer_items(instrument, response.answers)
        if not items:
            continue
        resources.append(
            QuestionnaireResponse(
                id=f"{response.pk}-{codes.QUESTIONNAIRE_IDS[instrument]}",
                identifier={
                    "system": codes.local("sid/survey-response"),
                    "value": str(response.pk),
                },
                questionnaire=questionnaire_url(instrument),
                status="completed",
                subject=_ref("Patient", response.patient_id),
                authored=response.submitted_at,
                author=_ref("Patient", response.patient_id),
                source=_ref("Patient", response.patient_id),
                item=items,
            )
        )
    return resources


def flag_resource(alert) -> Flag:
    """A follow-up alert (red flag, worse pain, PGIC much worse) as a Flag for staff;
    active until a nurse acknowledged it."""
    period = {"start": alert.created_at}
    if alert.acknowledged_at:
        period["end"] = alert.acknowledged_at
    return Flag(
        id=str(alert.pk),
        status="inactive" if alert.acknowledged_at else "active",
        category=[{"coding": [{"system": codes.FLAG_CATEGORY, "code": "clinical"}]}],
        code={
            "coding": [
                {
                    "system": codes.local("CodeSystem/alert"),
                    "code": alert.kind,
                    "display": alert.get_kind_display(),
                }
            ],
            "text": f"{alert.get_kind_display()}: {alert.detail}" if alert.detail else None,
        },
        subject=_ref("Patient", alert.patient_id),
        period=period,
    )

"""Code systems, codes and mappings the FHIR interface uses (listed in README, "FHIR").

Standard codes only where the code is known for certain; everything else is text, or a
code of the clinic's own system under FHIR_SYSTEM_BASE (never passed off as LOINC/SNOMED).
"""

from dataclasses import dataclass

from django.conf import settings

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
LOCATION_PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
LANGUAGE = "urn:ietf:bcp:47"
FHIR_VERSION = "4.0.1"


def local(path: str) -> str:
    """A system or canonical URL of the clinic's own, e.g. local("sid/mrn")."""
    return f"{settings.FHIR_SYSTEM_BASE}/{path}"


# Our appointment lifecycle -> FHIR R4 Appointment.status (appointmentstatus). FHIR has no
# "confirmed" (booked covers it) and no separate procedure or recovery step (arrived:
# the patient is here); discharged and completed are both fulfilled.
APPOINTMENT_STATUS = {
    "requested": "proposed",
    "booked": "booked",
    "confirmed": "booked",
    "checked_in": "checked-in",
    "in_procedure": "arrived",
    "in_recovery": "arrived",
    "discharged": "fulfilled",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "no_show": "noshow",
}
# Every code of the R4 value set, so a search for one we never use finds nothing, not a 400.
FHIR_APPOINTMENT_STATUSES = {
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
}
# Appointments whose procedure has begun are also a Procedure (same id).
PROCEDURE_STATUS = {
    "in_procedure": "in-progress",
    "in_recovery": "completed",
    "discharged": "completed",
    "completed": "completed",
}

# SNOMED CT laterality qualifiers.
LATERALITY = {
    "left": ("7771000", "Left"),
    "right": ("24028007", "Right"),
    "bilateral": ("51440002", "Right and left"),
}
# SNOMED CT body structures of the spinal regions the catalogue names.
REGION = {
    "cervical": ("122494005", "Cervical spine structure"),
    "thoracic": ("122495006", "Thoracic spine structure"),
    "lumbar": ("122496007", "Lumbar spine structure"),
}
# SNOMED CT "Level of X/Y intervertebral disc" (as in DICOM CID 1003) for adjacent levels.
_DISC_LEVELS = {
    "C2-C3": "243902007",
    "C3-C4": "243903002",
    "C4-C5": "243904008",
    "C5-C6": "243905009",
    "C6-C7": "243906005",
    "C7-T1": "243925008",
    "T1-T2": "243908006",
    "T2-T3": "243909003",
    "T3-T4": "243910008",
    "T4-T5": "243911007",
    "T5-T6": "243912000",
    "T6-T7": "243913005",
    "T7-T8": "243914004",
    "T8-T9": "243915003",
    "T9-T10": "243916002",
    "T10-T11": "243917006",
    "T11-T12": "243918001",
    "T12-L1": "243926009",
    "L1-L2": "243920003",
    "L2-L3": "243921004",
    "L3-L4": "243922006",
    "L4-L5": "243923001",
    "L5-S1": "243927000",
}


def level_code(level: str) -> tuple[str, str] | None:
    """(SNOMED code, display) of a level such as "L4-L5"; None for a single vertebra or a
    range over several segments, which stay text."""
    code = _DISC_LEVELS.get(level.strip().upper())
    if code is None:
        return None
    upper, lower = level.strip().upper().split("-")
    return code, f"Level of {upper}/{lower} intervertebral disc"


@dataclass(frozen=True)
class ObservationKind:
    """One kind of Observation the endpoint derives from a row of our record.

    `slug` ends the Observation id ("round-12-resp-rate"); `field` is the model field read.
    A kind with `loinc` is coded in LOINC; the others only in the clinic's own system.
    """

    slug: str
    source: str  # "round" (nursing observation round) or "pro" (follow-up Response)
    field: str
    display: str
    category: str
    loinc: str = ""
    unit: str = ""  # UCUM code, also shown as the unit

    @property
    def codings(self) -> list[dict]:
        codings = [{"system": local("CodeSystem/observation"), "code": self.slug}]
        if self.loinc:
            codings.insert(0, {"system": LOINC, "code": self.loinc, "display": self.display})
        return codings

    def matches(self, system: str | None, code: str) -> bool:
        """Whether a token search `system|code` (system None: any) names this kind."""
        return any(
            c["code"] == code and (system is None or c["system"] == system) for c in self.codings
        )


VITAL = "vital-signs"
SURVEY = "survey"
EXAM = "exam"

OBSERVATION_KINDS: tuple[ObservationKind, ...] = (
    ObservationKind(
        "resp-rate", "round", "respiration_rate", "Respiratory rate", VITAL, "9279-1", "/min"
    ),
    ObservationKind(
        "spo2",
        "round",
        "spo2",
        "Oxygen saturation in Arterial blood by Pulse oximetry",
        VITAL,
        "59408-5",
        "%",
    ),
    ObservationKind(
        "bp-systolic", "round", "systolic_bp", "Systolic blood pressure", VITAL, "8480-6", "mm[Hg]"
    ),
    ObservationKind(
        "bp-diastolic",
        "round",
        "diastolic_bp",
        "Diastolic blood pressure",
        VITAL,
        "8462-4",
        "mm[Hg]",
    ),
    ObservationKind("heart-rate", "round", "pulse", "Heart rate", VITAL, "8867-4", "/min"),
    ObservationKind(
        "temperature", "round", "temperature", "Body temperature", VITAL, "8310-5", "Cel"
    ),
    # No code of NEWS2 (RCP 2017) is in our clinical reference: the clinic's own code.
    ObservationKind("news2", "round", "news2_total", "NEWS2 total score (RCP 2017)", EXAM),
    ObservationKind(
        "nrs-current",
        "pro",
        "nrs_current",
        "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
        SURVEY,
        "72514-3",
    ),
    ObservationKind("nrs-average", "pro", "nrs_average", "Average pain (NRS 0-10)", SURVEY),
    ObservationKind("nrs-worst", "pro", "nrs_worst", "Worst pain (NRS 0-10)", SURVEY),
    ObservationKind(
        "odi", "pro", "odi_percent", "Oswestry Disability Index v2.1a score", SURVEY, unit="%"
    ),
    ObservationKind("ndi", "pro", "ndi_percent", "Neck Disability Index score", SURVEY, unit="%"),
    ObservationKind("pgic", "pro", "pgic", "Patient Global Impression of Change (PGIC)", SURVEY),
)
ROUND_KINDS = tuple(kind for kind in OBSERVATION_KINDS if kind.source == "round")
PRO_KINDS = tuple(kind for kind in OBSERVATION_KINDS if kind.source == "pro")

# Questionnaire ids (FHIR ids allow no underscore) of the follow-up instruments.
QUESTIONNAIRE_IDS = {
    "nrs": "nrs",
    "pgic": "pgic",
    "relief": "relief",
    "odi": "odi",
    "ndi": "ndi",
    "red_flags": "red-flags",
    "diary": "diary",
}

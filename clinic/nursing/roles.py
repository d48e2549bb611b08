"""Permissions this area adds to each staff role (merged by clinic.roles).

Nurses and physicians record; only physicians override a hard stop or sign a time-out as
the physician; managers (and admins) read everything and edit the protocols; the front
desk sees only the status, on the recovery board (scheduling.view_appointment).
"""

from clinic.roles import Role

PROTOCOL_MODELS = [
    "checklistitem",
    "anticoagulanthold",
    "procedureprotocol",
    "procedurenotetemplate",
    "complication",
]
RECORD_MODELS = [
    "checklistanswer",
    "timeoutconfirmation",
    "observationround",
    "escalation",
    "dischargeassessment",
    "discharge",
    "amendment",
    "hardstopoverride",
    "procedurenote",
    "procedurenoteamendment",
]
PROTOCOL_READ = [f"nursing.view_{model}" for model in PROTOCOL_MODELS]
PROTOCOL_WRITE = [
    *PROTOCOL_READ,
    *(f"nursing.{verb}_{model}" for model in PROTOCOL_MODELS for verb in ("add", "change")),
]
RECORD_READ = [f"nursing.view_{model}" for model in RECORD_MODELS]
RECORD_WRITE = [
    *RECORD_READ,
    *(
        f"nursing.add_{model}"
        for model in (
            "checklistanswer",
            "timeoutconfirmation",
            "observationround",
            "escalation",
            "dischargeassessment",
            "discharge",
        )
    ),
    # Amending a signed record.
    "nursing.change_checklistanswer",
    "nursing.change_observationround",
    "nursing.change_dischargeassessment",
]

# The physician's procedure note: only a physician writes, signs and amends it; a nurse reads.
PROCEDURE_NOTE_WRITE = [
    "nursing.add_procedurenote",
    "nursing.change_procedurenote",
    "nursing.sign_procedurenote",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.FRONT_DESK: [],
    Role.NURSE: [*RECORD_WRITE, *PROTOCOL_READ],
    Role.PHYSICIAN: [
        *RECORD_WRITE,
        *PROTOCOL_READ,
        "nursing.override_hard_stop",
        "nursing.sign_time_out_as_physician",
        *PROCEDURE_NOTE_WRITE,
    ],
    Role.MANAGER: [*RECORD_READ, *PROTOCOL_WRITE],
    Role.ADMIN: [*RECORD_READ, *PROTOCOL_WRITE],
}

"""Seeds the nursing protocols: checklist items, anticoagulant holds, observation
schedules, discharge scales and discharge instructions per procedure type.

Sources (see ../nursing/CLINICAL_CONTENT.md): WHO Surgical Safety Checklist and the Joint
Commission Universal Protocol (checklist); ASRA Pain Medicine, Narouze et al., Reg Anesth
Pain Med 2018;43:225-62 (bleeding-risk categories and hold times, a starting point the
clinic confirms: shown to staff "per clinic protocol"); Aldrete 1995 and Chung 1995
(discharge scales). Everything here is data a manager edits.
"""

from django.db import migrations

STEROID_PROCEDURES = [
    "esi-interlaminar",
    "esi-transforaminal",
    "esi-caudal",
    "facet-injection",
    "si-joint-injection",
    "nerve-root-block",
    "peripheral-nerve-block",
    "epiduroscopy",
]
NO = ["no"]

# code, phase, kind, label, required, hard stop, fail values, applies when, extra
CHECKLIST = [
    (
        "identity",
        "pre_procedure",
        "yes_no",
        "Identity confirmed with two identifiers",
        True,
        True,
        NO,
        "always",
        {
            "help_text": "The patient states full name and date of birth; check them against the "
            "wristband and this record."
        },
    ),
    (
        "consent",
        "pre_procedure",
        "yes_no",
        "Consent form signed",
        True,
        True,
        NO,
        "always",
        {"help_text": "Signed by the patient for this procedure, side and level."},
    ),
    (
        "allergies",
        "pre_procedure",
        "yes_no",
        "Allergies reviewed (contrast, iodine, latex, local anaesthetic, steroid)",
        True,
        True,
        NO,
        "always",
        {"help_text": "Ask the patient and compare with the allergies recorded above."},
    ),
    (
        "antithrombotics",
        "pre_procedure",
        "antithrombotic",
        "Anticoagulant / antiplatelet last doses",
        True,
        True,
        [],
        "always",
        {
            "help_text": "Checked against the hold table for the procedure's bleeding risk, per "
            "clinic protocol (defaults from ASRA Pain Medicine 2018)."
        },
    ),
    (
        "fasting",
        "pre_procedure",
        "yes_no",
        "Fasting as instructed for sedation",
        True,
        True,
        NO,
        "sedation",
        {},
    ),
    (
        "escort",
        "pre_procedure",
        "yes_no",
        "Escort home arranged (no driving today)",
        True,
        True,
        NO,
        "always",
        {},
    ),
    (
        "glucose",
        "pre_procedure",
        "number",
        "Blood glucose (diabetic, steroid planned)",
        True,
        False,
        [],
        "diabetic",
        {
            "unit": "mmol/L",
            "min_value": 1,
            "max_value": 40,
            "help_text": "Steroid raises blood glucose: tell the physician if it is high.",
            "procedures": STEROID_PROCEDURES,
        },
    ),
    (
        "pregnancy",
        "pre_procedure",
        "yes_no_na",
        "Pregnancy excluded",
        True,
        True,
        NO,
        "childbearing",
        {
            "help_text": "Fluoroscopy: ask, and test if in doubt. n.a. after "
            "hysterectomy or menopause."
        },
    ),
    (
        "infection",
        "pre_procedure",
        "yes_no",
        "Free of fever and signs of infection",
        True,
        True,
        NO,
        "always",
        {
            "help_text": "No fever, no infection at the puncture site, no antibiotics for an "
            "active infection."
        },
    ),
    (
        "baseline-systolic",
        "pre_procedure",
        "number",
        "Baseline systolic BP",
        True,
        False,
        [],
        "always",
        {"unit": "mmHg", "min_value": 50, "max_value": 300},
    ),
    (
        "baseline-diastolic",
        "pre_procedure",
        "number",
        "Baseline diastolic BP",
        True,
        False,
        [],
        "always",
        {"unit": "mmHg", "min_value": 20, "max_value": 200},
    ),
    (
        "baseline-pulse",
        "pre_procedure",
        "number",
        "Baseline pulse",
        True,
        False,
        [],
        "always",
        {"unit": "/min", "min_value": 20, "max_value": 250},
    ),
    (
        "baseline-spo2",
        "pre_procedure",
        "number",
        "Baseline SpO2 on air",
        True,
        False,
        [],
        "always",
        {"unit": "%", "min_value": 50, "max_value": 100},
    ),
    (
        "baseline-pain",
        "pre_procedure",
        "number",
        "Baseline pain (NRS 0-10)",
        True,
        False,
        [],
        "always",
        {
            "unit": "/10",
            "min_value": 0,
            "max_value": 10,
            "help_text": "0 no pain, 10 worst pain imaginable.",
        },
    ),
    (
        "imaging",
        "sign_in",
        "yes_no",
        "Imaging reviewed and available",
        True,
        False,
        NO,
        "always",
        {},
    ),
    (
        "site-marked",
        "sign_in",
        "yes_no_na",
        "Site, side and spinal level marked",
        True,
        True,
        NO,
        "always",
        {"help_text": "n.a. only for a midline procedure without a side."},
    ),
    ("iv-access", "sign_in", "yes_no", "IV access in place", True, True, NO, "sedation", {}),
    ("timeout-patient", "time_out", "yes_no", "Patient confirmed", True, True, NO, "always", {}),
    (
        "timeout-procedure",
        "time_out",
        "yes_no",
        "Procedure confirmed",
        True,
        True,
        NO,
        "always",
        {},
    ),
    ("timeout-side", "time_out", "yes_no", "Side confirmed", True, True, NO, "sided", {}),
    ("timeout-levels", "time_out", "yes_no", "Level(s) confirmed", True, True, NO, "levelled", {}),
    ("timeout-position", "time_out", "yes_no", "Position correct", True, True, NO, "always", {}),
    ("timeout-images", "time_out", "yes_no", "Images displayed", True, True, NO, "always", {}),
    (
        "signout-performed",
        "sign_out",
        "text",
        "Procedure and levels performed",
        True,
        False,
        [],
        "always",
        {},
    ),
    (
        "signout-complications",
        "sign_out",
        "choice",
        "Complications",
        True,
        False,
        [],
        "always",
        {
            "choices": [
                "None",
                "Vasovagal reaction",
                "Bleeding or haematoma",
                "Dural puncture",
                "Paraesthesia or nerve irritation",
                "Local anaesthetic reaction",
                "Other (see plan)",
            ]
        },
    ),
    ("signout-plan", "sign_out", "text", "Recovery plan", True, False, [], "always", {}),
]

AGENTS = [
    "warfarin",
    "clopidogrel",
    "prasugrel",
    "ticagrelor",
    "apixaban",
    "rivaroxaban",
    "dabigatran",
    "edoxaban",
    "enoxaparin",
    "aspirin",
]
LOW_RISK_NOTE = (
    "Low-risk procedure: usually continued; decide with the physician when the "
    "patient has bleeding risk factors."
)
# agent, intermediate days, high days, note (ASRA 2018; edoxaban is left to the physician)
HOLDS = [
    ("warfarin", 5, 5, "And a normal INR on the day."),
    ("clopidogrel", 7, 7, ""),
    ("prasugrel", 7, 10, "ASRA range 7-10 days."),
    ("ticagrelor", 5, 5, ""),
    ("apixaban", 3, 5, "ASRA range 3-5 days."),
    ("rivaroxaban", 3, 3, ""),
    ("dabigatran", 4, 5, "ASRA range 4-5 days; 6 days with impaired renal function."),
    ("enoxaparin", 1, 1, "12 h after a prophylactic dose, 24 h after a therapeutic dose."),
]
ASPIRIN = [
    ("intermediate", 0, "Shared decision with the prescriber."),
    (
        "high",
        6,
        "Primary prevention; in secondary prevention a shared decision with the "
        "prescriber (physician override).",
    ),
]
SOURCE = "ASRA Pain Medicine 2018 (Narouze et al., Reg Anesth Pain Med 2018;43:225-62)"

LONGER_WATCH = {"scs-trial", "scs-implant", "vertebroplasty", "kyphoplasty"}
PADSS = {
    "scs-trial",
    "scs-implant",
    "intrathecal-pump",
    "percutaneous-discectomy",
    "vertebroplasty",
    "kyphoplasty",
    "epiduroscopy",
}

WARNING_EN = (
    "Call the clinic, or 112 in an emergency, if you get: fever or chills; redness, swelling "
    "or discharge where the needle went in; new or increasing weakness or numbness in your "
    "legs or arms; loss of bladder or bowel control; or a severe headache that is worse when "
    "you sit or stand."
)
WARNING_DA = (
    "Ring til klinikken, eller 112 ved akut fare, hvis du får: feber eller kulderystelser; "
    "rødme, hævelse eller væske fra indstiksstedet; nye eller tiltagende lammelser eller "
    "følelsesløshed i ben eller arme; manglende kontrol over blære eller tarm; eller svær "
    "hovedpine, der forværres, når du sidder eller står."
)
INJECTION_EN = [
    "Rest for the rest of the day and do not drive today: the local anaesthetic can make a "
    "leg or arm numb or weak for a few hours.",
    "You may take your usual pain medicine. Note how your pain is over the next days: the "
    "clinic will ask you.",
    "Take off the plaster tomorrow. You may shower, but do not bathe or swim for 24 hours.",
    "If you have diabetes, check your blood sugar more often for a few days: steroid can raise it.",
    "Restart blood-thinning medicine as agreed with the clinic.",
]
INJECTION_DA = [
    "Hvil resten af dagen, og kør ikke bil i dag: bedøvelsen kan gøre et ben eller en arm "
    "følelsesløs eller svag i nogle timer.",
    "Du må tage din sædvanlige smertestillende medicin. Læg mærke til dine smerter de næste "
    "dage: klinikken vil spørge dig.",
    "Fjern plastret i morgen. Du må gå i bad, men ikke i badekar eller svømmehal i 24 timer.",
    "Har du diabetes, så mål dit blodsukker oftere i nogle dage: binyrebarkhormon kan hæve det.",
    "Genoptag blodfortyndende medicin som aftalt med klinikken.",
]
SEDATION_EN = [
    "You had sedation: an adult must take you home and stay with you tonight. For 24 hours do "
    "not drive, use machines, drink alcohol or sign important papers.",
]
SEDATION_DA = [
    "Du har fået beroligende medicin: en voksen skal følge dig hjem og blive hos dig i nat. I "
    "24 timer må du ikke køre bil, betjene maskiner, drikke alkohol eller skrive under på "
    "vigtige papirer.",
]
WOUND_EN = [
    "Keep the dressing clean and dry until the clinic checks the wound. Avoid bending, "
    "twisting and heavy lifting until the clinic tells you otherwise.",
]
WOUND_DA = [
    "Hold forbindingen ren og tør, indtil klinikken har set såret. Undgå at bøje, vride og "
    "løfte tungt, indtil klinikken siger andet.",
]
CEMENT_EN = [
    "Rest today and build up your activity over the next days. Call 112 at once for sudden "
    "chest pain or shortness of breath.",
]
CEMENT_DA = [
    "Hvil i dag, og øg aktiviteten gradvist de næste dage. Ring straks 112 ved pludselige "
    "brystsmerter eller åndenød.",
]


def _instructions(code, sedation, language):
    en = language == "en"
    parts = list(INJECTION_EN if en else INJECTION_DA)
    if sedation != "none":
        parts = (SEDATION_EN if en else SEDATION_DA) + parts
    if code in {"scs-trial", "scs-implant", "intrathecal-pump", "percutaneous-discectomy"}:
        parts += WOUND_EN if en else WOUND_DA
    if code in {"vertebroplasty", "kyphoplasty"}:
        parts += CEMENT_EN if en else CEMENT_DA
    return "\n".join(f"- {line}" for line in parts) + "\n\n" + (WARNING_EN if en else WARNING_DA)


def seed(apps, schema_editor):
    ProcedureType = apps.get_model("clinic", "ProcedureType")
    ChecklistItem = apps.get_model("clinic", "ChecklistItem")
    AnticoagulantHold = apps.get_model("clinic", "AnticoagulantHold")
    ProcedureProtocol = apps.get_model("clinic", "ProcedureProtocol")

    for order, (code, phase, kind, label, required, hard_stop, fail, applies, extra) in enumerate(
        CHECKLIST, start=1
    ):
        extra = dict(extra)
        procedures = extra.pop("procedures", [])
        item, _ = ChecklistItem.objects.update_or_create(
            code=code,
            defaults=dict(
                phase=phase,
                kind=kind,
                label=label,
                required=required,
                hard_stop=hard_stop,
                fail_values=fail,
                applies_when=applies,
                order=order * 10,
                **extra,
            ),
        )
        item.procedure_types.set(ProcedureType.objects.filter(code__in=procedures))

    rows = [(agent, "low", 0, LOW_RISK_NOTE) for agent in AGENTS]
    for agent, intermediate, high, note in HOLDS:
        rows += [(agent, "intermediate", intermediate, note), (agent, "high", high, note)]
    rows += [("aspirin", risk, days, note) for risk, days, note in ASPIRIN]
    for agent, risk, days, note in rows:
        AnticoagulantHold.objects.update_or_create(
            agent=agent,
            bleeding_risk=risk,
            defaults={"hold_days": days, "note": note, "source": SOURCE},
        )

    for procedure_type in ProcedureType.objects.all():
        code, sedation = procedure_type.code, procedure_type.typical_sedation
        longer = sedation != "none" or code in LONGER_WATCH
        ProcedureProtocol.objects.update_or_create(
            procedure_type=procedure_type,
            defaults=dict(
                observation_interval_minutes=15,
                observation_count=4 if longer else 2,
                discharge_scale="padss" if code in PADSS else "aldrete",
                discharge_threshold=9,
                instructions_en=_instructions(code, sedation, "en"),
                instructions_da=_instructions(code, sedation, "da"),
            ),
        )


class Migration(migrations.Migration):
    dependencies = [("clinic", "0003_nursing_record")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

"""Seeds a care plan and preparation advice for every procedure type of the catalogue.

Starting points a manager edits in the admin. Follow-up times follow the clinic brief:
after injections a day-1 red-flag check, then 2 weeks, 6 weeks and 3 months with NRS,
PGIC, relief and ODI/NDI by region; a same-day pain diary after diagnostic blocks; RFA at
1, 3, 6 and 12 months; a daily diary during a spinal cord stimulator trial.
Anticoagulant advice only points to the clinic's protocol (ASRA Pain Medicine, Narouze
et al., Reg Anesth Pain Med 2018;43:225-62, as confirmed by the clinic): patient text
never names drugs' hold times, and no text names the procedure or a diagnosis.
"""

import datetime

from django.db import migrations

AT_10 = datetime.time(10, 0)
AT_18 = datetime.time(18, 0)
OUTCOME = ["nrs", "pgic", "relief", "disability"]
DAY_1 = ("Day 1 red-flag check", 1, 0, AT_10, ["red_flags"], 3)
WEEKS_2 = ("2 weeks", 14, 0, AT_10, [*OUTCOME, "red_flags"], None)
WEEKS_6 = ("6 weeks", 42, 0, AT_10, OUTCOME, None)
MONTHS_3 = ("3 months", 91, 0, AT_10, OUTCOME, None)
MONTHS_6 = ("6 months", 182, 0, AT_10, OUTCOME, None)
MONTHS_12 = ("12 months", 365, 0, AT_10, OUTCOME, None)
# Sent at discharge; the patient scores the pain at each diary time through the day.
SAME_DAY_DIARY = ("Same-day pain diary", 0, 0, None, ["diary"], 2)

INJECTION = [DAY_1, WEEKS_2, WEEKS_6, MONTHS_3]
DIAGNOSTIC_BLOCK = [SAME_DAY_DIARY, DAY_1]
IMPLANT = [DAY_1, ("2 weeks wound check", 14, 0, AT_10, ["red_flags", "nrs"], None),
           MONTHS_3, MONTHS_6, MONTHS_12]
SCS_TRIAL = [
    *[(f"Trial day {day}", day, 0, AT_18, ["nrs", "relief", "red_flags"], 1)
      for day in range(1, 8)],
    ("End of trial", 8, 0, AT_10, OUTCOME, None),
]

# code: (baseline instruments, steps)
PLANS = {
    "esi-interlaminar": (["nrs", "disability"], INJECTION),
    "esi-transforaminal": (["nrs", "disability"], INJECTION),
    "esi-caudal": (["nrs", "disability"], INJECTION),
    "facet-injection": (["nrs", "disability"], INJECTION),
    "si-joint-injection": (["nrs", "disability"], INJECTION),
    "peripheral-nerve-block": (["nrs"], [DAY_1, WEEKS_2, WEEKS_6]),
    "medial-branch-block": (["nrs"], DIAGNOSTIC_BLOCK),
    "nerve-root-block": (["nrs", "disability"], [*DIAGNOSTIC_BLOCK, WEEKS_2, WEEKS_6]),
    "rfa": (["nrs", "disability"], [DAY_1, ("1 month", 30, 0, AT_10, OUTCOME, None),
                                    MONTHS_3, MONTHS_6, MONTHS_12]),
    "scs-trial": (["nrs", "disability"], SCS_TRIAL),
    "scs-implant": (["nrs", "disability"], IMPLANT),
    "intrathecal-pump": (["nrs", "disability"], IMPLANT),
    "epiduroscopy": (["nrs", "disability"], [DAY_1, WEEKS_2, MONTHS_3, MONTHS_12]),
    "percutaneous-discectomy": (["nrs", "disability"], [DAY_1, WEEKS_2, MONTHS_3, MONTHS_12]),
    "vertebroplasty": (["nrs", "disability"], [DAY_1, WEEKS_2, MONTHS_3, MONTHS_12]),
    "kyphoplasty": (["nrs", "disability"], [DAY_1, WEEKS_2, MONTHS_3, MONTHS_12]),
    # Watching for disc infection after discography; it treats nothing.
    "discography": (["nrs"], [DAY_1, ("2 weeks check", 14, 0, AT_10, ["red_flags", "nrs"], None)]),
}
# A procedure type added later without a plan above gets the injection plan.
DEFAULT_PLAN = (["nrs", "disability"], INJECTION)

STEROID = {
    "esi-interlaminar", "esi-transforaminal", "esi-caudal", "facet-injection",
    "si-joint-injection", "nerve-root-block", "peripheral-nerve-block", "epiduroscopy",
}
TEXTS = {
    "bring": {
        "en": "Bring a list of all the medicines you take, and any recent scans or letters "
        "from other doctors. Wear loose, comfortable clothes.",
        "da": "Medbring en liste over al den medicin, du tager, og eventuelle nye scanninger "
        "eller breve fra andre læger. Tag løst og behageligt tøj på.",
    },
    "fasting": {
        "en": "You will be given a sedative: do not eat for 6 hours before your appointment. "
        "You may drink water until 2 hours before.",
        "da": "Du får beroligende medicin: du må ikke spise i 6 timer før din aftale. "
        "Du må drikke vand indtil 2 timer før.",
    },
    "escort_sedated": {
        "en": "An adult must take you home, and you must not drive or cycle for the rest of "
        "the day.",
        "da": "En voksen skal følge dig hjem, og du må ikke køre bil eller cykle resten af "
        "dagen.",
    },
    "escort": {
        "en": "Please do not drive yourself home: arrange a lift or take a taxi.",
        "da": "Kør ikke selv hjem: aftal at blive hentet, eller tag en taxa.",
    },
    "anticoagulants_hold": {
        "en": "If you take blood-thinning medicine (for example warfarin, apixaban, "
        "rivaroxaban, dabigatran, clopidogrel or ticagrelor), you may need to pause it before "
        "your appointment, as the clinic's protocol sets out. Do not stop any medicine on "
        "your own: if the clinic has not told you what to do, call us as soon as possible.",
        "da": "Hvis du tager blodfortyndende medicin (for eksempel warfarin, apixaban, "
        "rivaroxaban, dabigatran, clopidogrel eller ticagrelor), skal du måske holde pause "
        "med den før din aftale efter klinikkens retningslinjer. Stop ikke selv med nogen "
        "medicin: hvis klinikken ikke har fortalt dig, hvad du skal gøre, så ring til os "
        "hurtigst muligt.",
    },
    "anticoagulants_keep": {
        "en": "If you take blood-thinning medicine, keep taking it unless the clinic tells "
        "you otherwise.",
        "da": "Hvis du tager blodfortyndende medicin, skal du fortsætte med den, medmindre "
        "klinikken siger andet.",
    },
    "diabetes": {
        "en": "If you have diabetes: the injection may raise your blood sugar for a few days. "
        "Check it more often, and call your doctor if it stays high.",
        "da": "Hvis du har sukkersyge: indsprøjtningen kan hæve dit blodsukker i nogle dage. "
        "Mål det oftere, og ring til din læge, hvis det bliver ved med at være højt.",
    },
}


def preparation_for(procedure_type) -> list[tuple[str, str]]:
    """(topic, text key) in the order the reminder lists them."""
    sedated = procedure_type.typical_sedation != "none"
    items = []
    if sedated:
        items.append(("fasting", "fasting"))
    if procedure_type.bleeding_risk in ("intermediate", "high"):
        items.append(("anticoagulants", "anticoagulants_hold"))
    else:
        items.append(("anticoagulants", "anticoagulants_keep"))
    if procedure_type.code in STEROID:
        items.append(("diabetes", "diabetes"))
    items.append(("escort", "escort_sedated" if sedated else "escort"))
    items.append(("bring", "bring"))
    return items


def seed(apps, schema_editor):
    ProcedureType = apps.get_model("clinic", "ProcedureType")
    CarePlan = apps.get_model("followup", "CarePlan")
    CarePlanStep = apps.get_model("followup", "CarePlanStep")
    PreparationInstruction = apps.get_model("followup", "PreparationInstruction")
    for procedure_type in ProcedureType.objects.all():
        baseline, steps = PLANS.get(procedure_type.code, DEFAULT_PLAN)
        plan, created = CarePlan.objects.get_or_create(
            procedure_type=procedure_type,
            defaults={"baseline_instruments": baseline, "baseline_with_reminder": True},
        )
        if created:
            for order, (name, days, minutes, at, instruments, expiry) in enumerate(steps):
                CarePlanStep.objects.create(
                    plan=plan,
                    name=name,
                    offset_days=days,
                    offset_minutes=minutes,
                    local_time=at,
                    instruments=instruments,
                    expiry_days=expiry,
                    order=order,
                )
        for order, (topic, key) in enumerate(preparation_for(procedure_type)):
            for language, text in TEXTS[key].items():
                PreparationInstruction.objects.get_or_create(
                    procedure_type=procedure_type,
                    topic=topic,
                    language=language,
                    defaults={"text": text, "order": order},
                )


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0002_roles_and_catalogue"),
        ("followup", "0002_engine_fields"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

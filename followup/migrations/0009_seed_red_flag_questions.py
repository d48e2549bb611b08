"""Seed the red-flag screen by region from shared/reference/clinical.md
("Post-procedure red flags by region"). Managers edit the rows afterwards.

Codes answered before the screen went by region (fever, site_infection, postural_headache,
new_leg_weakness, saddle_numbness, bladder_bowel) are kept with their meaning, so old and
new answers read the same. Danish wording is plain patient language.
"""

from django.db import migrations

# (region, code, English, Danish)
QUESTIONS = [
    ("cervical", "arm_weakness",
     "New weakness, numbness or clumsiness in an arm or a hand",
     "Ny svaghed, følelsesløshed eller klodsethed i en arm eller en hånd"),
    ("cervical", "walking_balance",
     "New difficulty walking or keeping your balance",
     "Nyt besvær med at gå eller holde balancen"),
    ("cervical", "neck_stiffness_fever",
     "A stiff neck together with fever",
     "Stiv nakke sammen med feber"),
    ("cervical", "breathing_swallowing",
     "Difficulty breathing or swallowing",
     "Besvær med at trække vejret eller synke"),
    ("cervical", "stroke_signs",
     "Changes in your sight, slurred speech, a drooping face or confusion",
     "Ændret syn, snøvlende tale, hængende mundvig eller forvirring"),
    ("thoracic", "breathless_chest_pain",
     "Shortness of breath or chest pain",
     "Åndenød eller smerter i brystet"),
    ("thoracic", "chest_band_pain_fever",
     "Pain like a tight band around your chest together with fever",
     "Smerter som et stramt bånd rundt om brystet sammen med feber"),
    ("thoracic", "new_leg_weakness",
     "New weakness in your legs",
     "Ny svaghed i benene"),
    ("lumbar_sacral", "new_leg_weakness",
     "New weakness or numbness in a leg or a foot",
     "Ny svaghed eller følelsesløshed i et ben eller en fod"),
    ("lumbar_sacral", "saddle_numbness",
     "Numbness in the saddle area (between your legs, around your bottom)",
     "Følelsesløshed i ridebukseområdet (mellem benene og omkring endetarmen)"),
    ("lumbar_sacral", "bladder_bowel",
     "New problems controlling your bladder or bowel, or being unable to pass urine",
     "Nye problemer med at holde på urin eller afføring, eller at du ikke kan lade vandet"),
    ("lumbar_sacral", "back_pain_fever",
     "Severe back pain together with fever",
     "Stærke rygsmerter sammen med feber"),
    ("any", "fever",
     "Fever of 38 °C or more, or chills",
     "Feber på 38 °C eller mere, eller kulderystelser"),
    ("any", "site_infection",
     "Redness, swelling, warmth or discharge where the needle went in",
     "Rødme, hævelse, varme eller væske fra stedet, hvor nålen gik ind"),
    ("any", "postural_headache",
     "A new, severe headache that is worse when you sit or stand up and eases when you lie down",
     "Ny, stærk hovedpine, der bliver værre, når du sidder eller står op, og letter, når du ligger ned"),
    ("any", "allergic_reaction",
     "A rash, or swelling of your face, lips or throat",
     "Udslæt, eller hævelse i ansigtet, på læberne eller i halsen"),
    ("any", "worsening_weakness",
     "New weakness or numbness that is getting worse",
     "Ny svaghed eller følelsesløshed, der bliver værre"),
]


def seed(apps, schema_editor):
    RedFlagQuestion = apps.get_model("followup", "RedFlagQuestion")
    orders = {}
    for region, code, text_en, text_da in QUESTIONS:
        orders[region] = orders.get(region, 0) + 10
        RedFlagQuestion.objects.get_or_create(
            region=region,
            code=code,
            defaults={"text_en": text_en, "text_da": text_da, "order": orders[region]},
        )


def unseed(apps, schema_editor):
    RedFlagQuestion = apps.get_model("followup", "RedFlagQuestion")
    for region, code, _en, _da in QUESTIONS:
        RedFlagQuestion.objects.filter(region=region, code=code).delete()


class Migration(migrations.Migration):
    dependencies = [("followup", "0008_red_flag_questions")]

    operations = [migrations.RunPython(seed, unseed)]

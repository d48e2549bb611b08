"""When a held antithrombotic is taken again (issue 14): days after the procedure day, data a
manager edits next to the hold days, told to the patient at booking.

Seeded from ASRA Pain Medicine 2018 (Narouze et al.): after an interventional spine or pain
procedure the agents are resumed 12-24 h after it, i.e. the day after (1). A clinic that
restarts later after high-risk procedures (e.g. SCS implants) edits the row.
"""

import django.core.validators
from django.db import migrations, models

# Agent -> days from the procedure day to the first dose after it.
RESTART_DAYS = {
    "warfarin": 1,
    "clopidogrel": 1,
    "prasugrel": 1,
    "ticagrelor": 1,
    "apixaban": 1,
    "rivaroxaban": 1,
    "dabigatran": 1,
    "edoxaban": 1,
    "enoxaparin": 1,
    "aspirin": 1,
}


def seed(apps, schema_editor):
    AnticoagulantHold = apps.get_model("nursing", "AnticoagulantHold")
    for agent, days in RESTART_DAYS.items():
        AnticoagulantHold.objects.filter(agent=agent).update(restart_days=days)


class Migration(migrations.Migration):

    dependencies = [
        ('nursing', '0003_per_stop_overrides'),
    ]

    operations = [
        migrations.AddField(
            model_name='anticoagulanthold',
            name='restart_days',
            field=models.PositiveSmallIntegerField(default=1, help_text='Days from the procedure day to the first dose after it; 1 is the day after.', validators=[django.core.validators.MaxValueValidator(14)]),
        ),
        migrations.AddField(
            model_name='historicalanticoagulanthold',
            name='restart_days',
            field=models.PositiveSmallIntegerField(default=1, help_text='Days from the procedure day to the first dose after it; 1 is the day after.', validators=[django.core.validators.MaxValueValidator(14)]),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]

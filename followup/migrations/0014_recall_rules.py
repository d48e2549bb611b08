"""Recall rules (issue 14, item 5): when a patient is due for review or a repeat, as data.

Seeded from shared/reference/clinical.md (thresholds marked [verify] there): a repeat ESI or
RFA is considered once relief from the last one fades below 50%; a diagnostic medial branch
block that reads positive (followup.blocks) leads to RFA, so a positive block with no RFA
booked four weeks later is followed up; an SCS trial lasts about a week, after which the
implant decision is due. Each row says "verify locally": the clinic confirms them.
"""

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models


SOURCE = "shared/reference/clinical.md (clinic-configured; verify locally)"
RULES = [
    dict(
        code="relief-fading",
        name="Relief fading after an injection or RFA",
        kind="relief_fading",
        watched=[
            "esi-interlaminar",
            "esi-transforaminal",
            "esi-caudal",
            "facet-injection",
            "si-joint-injection",
            "rfa",
        ],
        recall=None,
        threshold_percent=50,
        weeks=0,
    ),
    dict(
        code="mbb-positive-no-rfa",
        name="Positive medial branch block, no RFA booked",
        kind="positive_block",
        watched=["medial-branch-block"],
        recall="rfa",
        threshold_percent=None,
        weeks=4,
    ),
    dict(
        code="scs-trial-ended",
        name="SCS trial ended, implant decision due",
        kind="trial_ended",
        watched=["scs-trial"],
        recall="scs-implant",
        threshold_percent=None,
        weeks=1,
    ),
]


def seed(apps, schema_editor):
    RecallRule = apps.get_model("followup", "RecallRule")
    ProcedureType = apps.get_model("clinic", "ProcedureType")
    for spec in RULES:
        spec = dict(spec)
        watched = spec.pop("watched")
        recall = spec.pop("recall")
        rule, _ = RecallRule.objects.update_or_create(
            code=spec.pop("code"),
            defaults={
                **spec,
                "recall_procedure": ProcedureType.objects.filter(code=recall).first()
                if recall
                else None,
                "source": SOURCE,
                "note": "Verify locally.",
            },
        )
        rule.watched.set(ProcedureType.objects.filter(code__in=watched))


class Migration(migrations.Migration):

    dependencies = [
        ('clinic', '0011_patient_anonymisation'),
        ('followup', '0013_outcome_block_relief'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='HistoricalRecallRule',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('code', models.SlugField(max_length=40)),
                ('name', models.CharField(max_length=120)),
                ('kind', models.CharField(choices=[('relief_fading', 'Relief fading below the threshold in surveys'), ('positive_block', 'Diary-positive block, follow-on not booked'), ('trial_ended', 'Trial ended, follow-on not booked')], max_length=20)),
                ('threshold_percent', models.PositiveSmallIntegerField(blank=True, help_text="Relief fading: due when the latest survey's relief is below this, after an earlier one reached it.", null=True)),
                ('weeks', models.PositiveSmallIntegerField(default=0, help_text='Positive block / trial: due this many weeks after the watched procedure when the follow-on is still not booked.')),
                ('lookback_weeks', models.PositiveSmallIntegerField(default=52, help_text='Only procedures done within this many weeks count.')),
                ('active', models.BooleanField(default=True)),
                ('source', models.CharField(blank=True, max_length=255)),
                ('note', models.CharField(blank=True, default='Verify locally.', max_length=255)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('recall_procedure', models.ForeignKey(blank=True, db_constraint=False, help_text='Offered in the slot finder; empty: the watched procedure again.', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='clinic.proceduretype')),
            ],
            options={
                'verbose_name': 'historical recall rule',
                'verbose_name_plural': 'historical recall rules',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='RecallRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.SlugField(max_length=40, unique=True)),
                ('name', models.CharField(max_length=120)),
                ('kind', models.CharField(choices=[('relief_fading', 'Relief fading below the threshold in surveys'), ('positive_block', 'Diary-positive block, follow-on not booked'), ('trial_ended', 'Trial ended, follow-on not booked')], max_length=20)),
                ('threshold_percent', models.PositiveSmallIntegerField(blank=True, help_text="Relief fading: due when the latest survey's relief is below this, after an earlier one reached it.", null=True)),
                ('weeks', models.PositiveSmallIntegerField(default=0, help_text='Positive block / trial: due this many weeks after the watched procedure when the follow-on is still not booked.')),
                ('lookback_weeks', models.PositiveSmallIntegerField(default=52, help_text='Only procedures done within this many weeks count.')),
                ('active', models.BooleanField(default=True)),
                ('source', models.CharField(blank=True, max_length=255)),
                ('note', models.CharField(blank=True, default='Verify locally.', max_length=255)),
                ('recall_procedure', models.ForeignKey(blank=True, help_text='Offered in the slot finder; empty: the watched procedure again.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='clinic.proceduretype')),
                ('watched', models.ManyToManyField(help_text='Done procedures this rule looks at.', related_name='+', to='clinic.proceduretype')),
            ],
            options={
                'ordering': ['name'],
                'constraints': [models.CheckConstraint(condition=models.Q(('threshold_percent__isnull', True), models.Q(('threshold_percent__gte', 1), ('threshold_percent__lte', 100)), _connector='OR'), name='recall_rule_threshold_1_100', violation_error_message='The relief threshold is a percentage from 1 to 100.'), models.CheckConstraint(condition=models.Q(models.Q(('kind', 'relief_fading'), _negated=True), ('threshold_percent__isnull', False), _connector='OR'), name='recall_rule_fading_has_threshold', violation_error_message='A relief-fading rule needs its relief threshold.')],
            },
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]

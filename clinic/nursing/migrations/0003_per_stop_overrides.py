"""Overrides per stop (issue 10): which checklist items a physician may override is protocol
data, and each override names the stop it lets pass.

Seeded as overridable with a reason: the anticoagulant hold, fasting, blood glucose and the
escort home. Everything else (identity, consent, site/side/level, allergy review, sign-in,
time-out) is not; a manager may change the pre-procedure items, never sign-in or time-out.
"""

import django.db.models.deletion
from django.db import migrations, models

OVERRIDABLE = ["antithrombotics", "fasting", "glucose", "escort"]


def seed_overridable(apps, schema_editor):
    ChecklistItem = apps.get_model("nursing", "ChecklistItem")
    ChecklistItem.objects.filter(code__in=OVERRIDABLE, phase="pre_procedure").update(
        overridable=True
    )


def unseed_overridable(apps, schema_editor):
    apps.get_model("nursing", "ChecklistItem").objects.update(overridable=False)


class Migration(migrations.Migration):

    dependencies = [
        ('clinic', '0006_auth_audit_actions'),
        ('nursing', '0002_content_types_from_clinic'),
    ]

    operations = [
        migrations.AddField(
            model_name='checklistitem',
            name='overridable',
            field=models.BooleanField(default=False, help_text='A physician may let the procedure start despite a failing answer, giving a reason. Never for sign-in and time-out items, nor for an unanswered item.', verbose_name='a physician may override'),
        ),
        migrations.AddField(
            model_name='hardstopoverride',
            name='item',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='nursing.checklistitem'),
        ),
        migrations.AddField(
            model_name='hardstopoverride',
            name='stop',
            field=models.CharField(blank=True, help_text='Which stop was overridden.', max_length=40),
        ),
        migrations.AddField(
            model_name='historicalchecklistitem',
            name='overridable',
            field=models.BooleanField(default=False, help_text='A physician may let the procedure start despite a failing answer, giving a reason. Never for sign-in and time-out items, nor for an unanswered item.', verbose_name='a physician may override'),
        ),
        migrations.AlterField(
            model_name='checklistitem',
            name='hard_stop',
            field=models.BooleanField(default=False, help_text='A failing answer stops the procedure.'),
        ),
        migrations.AlterField(
            model_name='historicalchecklistitem',
            name='hard_stop',
            field=models.BooleanField(default=False, help_text='A failing answer stops the procedure.'),
        ),
        migrations.AddConstraint(
            model_name='checklistitem',
            constraint=models.CheckConstraint(condition=models.Q(('overridable', False), models.Q(('phase__in', ('sign_in', 'time_out')), _negated=True), _connector='OR'), name='checklist_item_sign_in_time_out_never_overridable', violation_error_message='Sign-in and time-out items can never be overridden.'),
        ),
        migrations.RunPython(seed_overridable, unseed_overridable),
    ]

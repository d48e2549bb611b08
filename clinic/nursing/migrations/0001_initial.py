"""The nursing models, taken over from the clinic app (issue 9) with their tables as they
are: the state is created, the database is left alone (see clinic 0005)."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
import simple_history.models
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('clinic', '0005_nursing_models_leave_clinic'),
        ('scheduling', '0002_no_double_booking'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay where they are: only Django's idea of which app owns them moves.
            state_operations=[
                migrations.CreateModel(
                    name='AnticoagulantHold',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('agent', models.CharField(choices=[('warfarin', 'Warfarin'), ('clopidogrel', 'Clopidogrel'), ('prasugrel', 'Prasugrel'), ('ticagrelor', 'Ticagrelor'), ('apixaban', 'Apixaban'), ('rivaroxaban', 'Rivaroxaban'), ('dabigatran', 'Dabigatran'), ('edoxaban', 'Edoxaban'), ('enoxaparin', 'Enoxaparin (LMWH)'), ('aspirin', 'Aspirin')], max_length=30)),
                        ('bleeding_risk', models.CharField(choices=[('low', 'Low'), ('intermediate', 'Intermediate'), ('high', 'High')], max_length=20)),
                        ('hold_days', models.PositiveSmallIntegerField(help_text='Days from the last dose to the procedure day; 0 means continue.', validators=[django.core.validators.MaxValueValidator(30)])),
                        ('note', models.CharField(blank=True, max_length=255)),
                        ('source', models.CharField(blank=True, default='ASRA Pain Medicine 2018 (Narouze et al.)', max_length=255)),
                    ],
                    options={
                        'db_table': 'clinic_anticoagulanthold',
                        'ordering': ['agent', 'bleeding_risk'],
                        'constraints': [models.UniqueConstraint(fields=('agent', 'bleeding_risk'), name='anticoagulant_hold_one_per_risk', violation_error_message='This agent already has a hold time for that bleeding risk: edit that one.')],
                    },
                ),
                migrations.CreateModel(
                    name='ChecklistItem',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('code', models.SlugField(max_length=40, unique=True)),
                        ('label', models.CharField(max_length=200)),
                        ('phase', models.CharField(choices=[('pre_procedure', 'Pre-procedure'), ('sign_in', 'Sign-in'), ('time_out', 'Time-out'), ('sign_out', 'Sign-out')], max_length=20)),
                        ('kind', models.CharField(choices=[('yes_no', 'Yes / no'), ('yes_no_na', 'Yes / no / n.a.'), ('number', 'Number'), ('choice', 'Choice'), ('text', 'Short text'), ('antithrombotic', 'Antithrombotic last doses')], max_length=20)),
                        ('applies_when', models.CharField(choices=[('always', 'Always'), ('sedation', 'Sedation planned'), ('diabetic', 'Patient is diabetic'), ('childbearing', 'Woman of childbearing age'), ('sided', 'Procedure has a side'), ('levelled', 'Procedure has spinal levels')], default='always', max_length=20)),
                        ('required', models.BooleanField(default=True)),
                        ('hard_stop', models.BooleanField(default=False, help_text='A failing answer stops the procedure unless a physician overrides.')),
                        ('fail_values', models.JSONField(blank=True, default=list, help_text='Answers that fail a hard stop, e.g. no. Antithrombotic items fail on the hold table instead.')),
                        ('unit', models.CharField(blank=True, max_length=20)),
                        ('min_value', models.DecimalField(blank=True, decimal_places=2, help_text='Lowest possible value.', max_digits=7, null=True)),
                        ('max_value', models.DecimalField(blank=True, decimal_places=2, help_text='Highest possible value.', max_digits=7, null=True)),
                        ('choices', models.JSONField(blank=True, default=list, help_text='The options of a choice.')),
                        ('help_text', models.CharField(blank=True, max_length=300)),
                        ('order', models.PositiveSmallIntegerField(default=0)),
                        ('active', models.BooleanField(default=True)),
                        ('procedure_types', models.ManyToManyField(blank=True, help_text='Leave empty to ask it for every procedure type.', related_name='checklist_items', to='clinic.proceduretype')),
                    ],
                    options={
                        'db_table': 'clinic_checklistitem',
                        'ordering': ['order', 'pk'],
                    },
                ),
                migrations.CreateModel(
                    name='ChecklistAnswer',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('value', models.JSONField()),
                        ('entered_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('signed_at', models.DateTimeField(blank=True, null=True)),
                        ('appointment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='checklist_answers', to='scheduling.appointment')),
                        ('entered_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('signed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('item', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='answers', to='nursing.checklistitem')),
                    ],
                    options={
                        'db_table': 'clinic_checklistanswer',
                        'ordering': ['item__order', 'item_id'],
                        'permissions': [('override_hard_stop', 'Can override a hard stop with a reason')],
                    },
                ),
                migrations.CreateModel(
                    name='DischargeAssessment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('signed_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('scale', models.CharField(choices=[('aldrete', 'Modified Aldrete'), ('padss', 'Modified PADSS')], max_length=10)),
                        ('scores', models.JSONField()),
                        ('total', models.PositiveSmallIntegerField(validators=[django.core.validators.MaxValueValidator(10)])),
                        ('threshold', models.PositiveSmallIntegerField(validators=[django.core.validators.MaxValueValidator(10)])),
                        ('appointment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='discharge_assessments', to='scheduling.appointment')),
                        ('signed_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'clinic_dischargeassessment',
                        'ordering': ['signed_at', 'pk'],
                    },
                ),
                migrations.CreateModel(
                    name='Discharge',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('discharged_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('instructions', models.TextField(help_text='As given to the patient.')),
                        ('instructions_language', models.CharField(choices=[('en', 'English'), ('da', 'Dansk')], max_length=2)),
                        ('appointment', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='discharge', to='scheduling.appointment')),
                        ('discharged_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('assessment', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='nursing.dischargeassessment')),
                    ],
                    options={
                        'db_table': 'clinic_discharge',
                        'ordering': ['-discharged_at'],
                    },
                ),
                migrations.CreateModel(
                    name='HardStopOverride',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('to_status', models.CharField(max_length=20)),
                        ('failures', models.TextField(help_text='The checks that failed at the time.')),
                        ('reason', models.TextField()),
                        ('at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('appointment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='hard_stop_overrides', to='scheduling.appointment')),
                        ('by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'clinic_hardstopoverride',
                        'ordering': ['at'],
                    },
                ),
                migrations.CreateModel(
                    name='HistoricalAnticoagulantHold',
                    fields=[
                        ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                        ('agent', models.CharField(choices=[('warfarin', 'Warfarin'), ('clopidogrel', 'Clopidogrel'), ('prasugrel', 'Prasugrel'), ('ticagrelor', 'Ticagrelor'), ('apixaban', 'Apixaban'), ('rivaroxaban', 'Rivaroxaban'), ('dabigatran', 'Dabigatran'), ('edoxaban', 'Edoxaban'), ('enoxaparin', 'Enoxaparin (LMWH)'), ('aspirin', 'Aspirin')], max_length=30)),
                        ('bleeding_risk', models.CharField(choices=[('low', 'Low'), ('intermediate', 'Intermediate'), ('high', 'High')], max_length=20)),
                        ('hold_days', models.PositiveSmallIntegerField(help_text='Days from the last dose to the procedure day; 0 means continue.', validators=[django.core.validators.MaxValueValidator(30)])),
                        ('note', models.CharField(blank=True, max_length=255)),
                        ('source', models.CharField(blank=True, default='ASRA Pain Medicine 2018 (Narouze et al.)', max_length=255)),
                        ('history_id', models.AutoField(primary_key=True, serialize=False)),
                        ('history_date', models.DateTimeField(db_index=True)),
                        ('history_change_reason', models.CharField(max_length=100, null=True)),
                        ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                        ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'historical anticoagulant hold',
                        'verbose_name_plural': 'historical anticoagulant holds',
                        'db_table': 'clinic_historicalanticoagulanthold',
                        'ordering': ('-history_date', '-history_id'),
                        'get_latest_by': ('history_date', 'history_id'),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name='HistoricalChecklistItem',
                    fields=[
                        ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                        ('code', models.SlugField(max_length=40)),
                        ('label', models.CharField(max_length=200)),
                        ('phase', models.CharField(choices=[('pre_procedure', 'Pre-procedure'), ('sign_in', 'Sign-in'), ('time_out', 'Time-out'), ('sign_out', 'Sign-out')], max_length=20)),
                        ('kind', models.CharField(choices=[('yes_no', 'Yes / no'), ('yes_no_na', 'Yes / no / n.a.'), ('number', 'Number'), ('choice', 'Choice'), ('text', 'Short text'), ('antithrombotic', 'Antithrombotic last doses')], max_length=20)),
                        ('applies_when', models.CharField(choices=[('always', 'Always'), ('sedation', 'Sedation planned'), ('diabetic', 'Patient is diabetic'), ('childbearing', 'Woman of childbearing age'), ('sided', 'Procedure has a side'), ('levelled', 'Procedure has spinal levels')], default='always', max_length=20)),
                        ('required', models.BooleanField(default=True)),
                        ('hard_stop', models.BooleanField(default=False, help_text='A failing answer stops the procedure unless a physician overrides.')),
                        ('fail_values', models.JSONField(blank=True, default=list, help_text='Answers that fail a hard stop, e.g. no. Antithrombotic items fail on the hold table instead.')),
                        ('unit', models.CharField(blank=True, max_length=20)),
                        ('min_value', models.DecimalField(blank=True, decimal_places=2, help_text='Lowest possible value.', max_digits=7, null=True)),
                        ('max_value', models.DecimalField(blank=True, decimal_places=2, help_text='Highest possible value.', max_digits=7, null=True)),
                        ('choices', models.JSONField(blank=True, default=list, help_text='The options of a choice.')),
                        ('help_text', models.CharField(blank=True, max_length=300)),
                        ('order', models.PositiveSmallIntegerField(default=0)),
                        ('active', models.BooleanField(default=True)),
                        ('history_id', models.AutoField(primary_key=True, serialize=False)),
                        ('history_date', models.DateTimeField(db_index=True)),
                        ('history_change_reason', models.CharField(max_length=100, null=True)),
                        ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                        ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'historical checklist item',
                        'verbose_name_plural': 'historical checklist items',
                        'db_table': 'clinic_historicalchecklistitem',
                        'ordering': ('-history_date', '-history_id'),
                        'get_latest_by': ('history_date', 'history_id'),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name='HistoricalChecklistItem_procedure_types',
                    fields=[
                        ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                        ('m2m_history_id', models.AutoField(primary_key=True, serialize=False)),
                        ('checklistitem', models.ForeignKey(blank=True, db_constraint=False, db_tablespace='', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='nursing.checklistitem')),
                        ('history', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, to='nursing.historicalchecklistitem')),
                        ('proceduretype', models.ForeignKey(blank=True, db_constraint=False, db_tablespace='', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='clinic.proceduretype')),
                    ],
                    options={
                        'verbose_name': 'HistoricalChecklistItem_procedure_types',
                        'db_table': 'clinic_historicalchecklistitem_procedure_types',
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name='HistoricalProcedureProtocol',
                    fields=[
                        ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                        ('observation_interval_minutes', models.PositiveSmallIntegerField(default=15, validators=[django.core.validators.MinValueValidator(5), django.core.validators.MaxValueValidator(240)])),
                        ('observation_count', models.PositiveSmallIntegerField(default=2, help_text='Rounds after the procedure before the schedule is complete.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(24)])),
                        ('discharge_scale', models.CharField(choices=[('aldrete', 'Modified Aldrete'), ('padss', 'Modified PADSS')], default='aldrete', max_length=10)),
                        ('discharge_threshold', models.PositiveSmallIntegerField(default=9, help_text='Lowest total (of 10) at which the patient may go home.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(10)])),
                        ('instructions_en', models.TextField(blank=True, verbose_name='discharge instructions (English)')),
                        ('instructions_da', models.TextField(blank=True, verbose_name='discharge instructions (Danish)')),
                        ('history_id', models.AutoField(primary_key=True, serialize=False)),
                        ('history_date', models.DateTimeField(db_index=True)),
                        ('history_change_reason', models.CharField(max_length=100, null=True)),
                        ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                        ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('procedure_type', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='clinic.proceduretype')),
                    ],
                    options={
                        'verbose_name': 'historical procedure protocol',
                        'verbose_name_plural': 'historical procedure protocols',
                        'db_table': 'clinic_historicalprocedureprotocol',
                        'ordering': ('-history_date', '-history_id'),
                        'get_latest_by': ('history_date', 'history_id'),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name='ObservationRound',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('signed_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('taken_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('respiration_rate', models.PositiveSmallIntegerField(verbose_name='respiration rate (/min)')),
                        ('spo2', models.PositiveSmallIntegerField(verbose_name='SpO₂ (%)')),
                        ('on_oxygen', models.BooleanField(default=False, verbose_name='on oxygen')),
                        ('spo2_scale', models.PositiveSmallIntegerField(choices=[(1, 'Scale 1'), (2, 'Scale 2 (target 88-92%)')], default=1, verbose_name='SpO₂ scale')),
                        ('systolic_bp', models.PositiveSmallIntegerField(verbose_name='systolic BP (mmHg)')),
                        ('diastolic_bp', models.PositiveSmallIntegerField(verbose_name='diastolic BP (mmHg)')),
                        ('pulse', models.PositiveSmallIntegerField(verbose_name='pulse (/min)')),
                        ('consciousness', models.CharField(choices=[('A', 'Alert'), ('C', 'New confusion'), ('V', 'Responds to voice'), ('P', 'Responds to pain'), ('U', 'Unresponsive')], default='A', max_length=1)),
                        ('temperature', models.DecimalField(decimal_places=1, max_digits=3, verbose_name='temperature (°C)')),
                        ('pain_nrs', models.PositiveSmallIntegerField(validators=[django.core.validators.MaxValueValidator(10)], verbose_name='pain (NRS 0-10)')),
                        ('motor', models.CharField(choices=[('normal', 'Normal'), ('weak', 'Weak'), ('unable', 'Cannot move')], default='normal', max_length=10, verbose_name='lower-limb motor')),
                        ('sensory', models.CharField(choices=[('normal', 'Normal'), ('altered', 'Altered'), ('numb', 'Numb')], default='normal', max_length=10, verbose_name='lower-limb sensory')),
                        ('puncture_site', models.CharField(choices=[('clean', 'Clean and dry'), ('oozing', 'Oozing'), ('bleeding', 'Bleeding'), ('haematoma', 'Haematoma')], default='clean', max_length=10)),
                        ('headache', models.CharField(choices=[('none', 'None'), ('mild', 'Mild'), ('moderate', 'Moderate'), ('severe', 'Severe')], default='none', max_length=10)),
                        ('nausea', models.CharField(choices=[('none', 'None'), ('nausea', 'Nausea'), ('vomiting', 'Vomiting')], default='none', max_length=10)),
                        ('note', models.CharField(blank=True, max_length=500)),
                        ('news2_total', models.PositiveSmallIntegerField()),
                        ('news2_risk', models.CharField(choices=[('low', 'low'), ('low-medium', 'low-medium'), ('medium', 'medium'), ('high', 'high')], max_length=12)),
                        ('news2_scores', models.JSONField(default=dict)),
                        ('appointment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='observation_rounds', to='scheduling.appointment')),
                        ('signed_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'clinic_observationround',
                        'ordering': ['taken_at', 'pk'],
                    },
                ),
                migrations.CreateModel(
                    name='Escalation',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('called_whom', models.CharField(blank=True, help_text='Name, if not a physician of this clinic.', max_length=120)),
                        ('called_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('note', models.CharField(blank=True, max_length=500)),
                        ('physician', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('recorded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('round', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='escalations', to='nursing.observationround')),
                    ],
                    options={
                        'db_table': 'clinic_escalation',
                        'ordering': ['called_at'],
                    },
                ),
                migrations.CreateModel(
                    name='Amendment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('field', models.CharField(max_length=60)),
                        ('old_value', models.TextField()),
                        ('new_value', models.TextField()),
                        ('reason', models.TextField()),
                        ('at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('answer', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='amendments', to='nursing.checklistanswer')),
                        ('assessment', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='amendments', to='nursing.dischargeassessment')),
                        ('round', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='amendments', to='nursing.observationround')),
                    ],
                    options={
                        'db_table': 'clinic_amendment',
                        'ordering': ['at', 'pk'],
                    },
                ),
                migrations.CreateModel(
                    name='ProcedureProtocol',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('observation_interval_minutes', models.PositiveSmallIntegerField(default=15, validators=[django.core.validators.MinValueValidator(5), django.core.validators.MaxValueValidator(240)])),
                        ('observation_count', models.PositiveSmallIntegerField(default=2, help_text='Rounds after the procedure before the schedule is complete.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(24)])),
                        ('discharge_scale', models.CharField(choices=[('aldrete', 'Modified Aldrete'), ('padss', 'Modified PADSS')], default='aldrete', max_length=10)),
                        ('discharge_threshold', models.PositiveSmallIntegerField(default=9, help_text='Lowest total (of 10) at which the patient may go home.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(10)])),
                        ('instructions_en', models.TextField(blank=True, verbose_name='discharge instructions (English)')),
                        ('instructions_da', models.TextField(blank=True, verbose_name='discharge instructions (Danish)')),
                        ('procedure_type', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='nursing_protocol', to='clinic.proceduretype')),
                    ],
                    options={
                        'db_table': 'clinic_procedureprotocol',
                        'ordering': ['procedure_type__name'],
                    },
                ),
                migrations.CreateModel(
                    name='TimeOutConfirmation',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('role', models.CharField(choices=[('nurse', 'Nurse'), ('physician', 'Physician')], max_length=10)),
                        ('signed_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('appointment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='time_out_confirmations', to='scheduling.appointment')),
                        ('signed_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'clinic_timeoutconfirmation',
                        'ordering': ['signed_at'],
                        'permissions': [('sign_time_out_as_physician', 'Can confirm a time-out as the physician')],
                    },
                ),
                migrations.AddConstraint(
                    model_name='checklistitem',
                    constraint=models.CheckConstraint(condition=models.Q(('min_value__isnull', True), ('max_value__isnull', True), ('max_value__gt', models.F('min_value')), _connector='OR'), name='checklist_item_range_valid'),
                ),
                migrations.AddConstraint(
                    model_name='checklistanswer',
                    constraint=models.UniqueConstraint(fields=('appointment', 'item'), name='checklist_answer_one_per_item', violation_error_message='This item is already answered for this appointment.'),
                ),
                migrations.AddConstraint(
                    model_name='checklistanswer',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('signed_at__isnull', True), ('signed_by__isnull', True)), models.Q(('signed_at__isnull', False), ('signed_by__isnull', False)), _connector='OR'), name='checklist_answer_signed_by_and_at'),
                ),
                migrations.AddConstraint(
                    model_name='dischargeassessment',
                    constraint=models.CheckConstraint(condition=models.Q(('total__lte', 10)), name='discharge_total_0_10'),
                ),
                migrations.AddConstraint(
                    model_name='hardstopoverride',
                    constraint=models.CheckConstraint(condition=models.Q(('reason', ''), _negated=True), name='hard_stop_override_has_reason'),
                ),
                migrations.AddConstraint(
                    model_name='observationround',
                    constraint=models.CheckConstraint(condition=models.Q(('spo2__gte', 50), ('spo2__lte', 100)), name='observation_spo2_possible'),
                ),
                migrations.AddConstraint(
                    model_name='observationround',
                    constraint=models.CheckConstraint(condition=models.Q(('pulse__gte', 20), ('pulse__lte', 250)), name='observation_pulse_possible'),
                ),
                migrations.AddConstraint(
                    model_name='observationround',
                    constraint=models.CheckConstraint(condition=models.Q(('temperature__gte', Decimal('30.0')), ('temperature__lte', Decimal('44.0'))), name='observation_temperature_possible'),
                ),
                migrations.AddConstraint(
                    model_name='observationround',
                    constraint=models.CheckConstraint(condition=models.Q(('diastolic_bp__lt', models.F('systolic_bp'))), name='observation_diastolic_below_systolic'),
                ),
                migrations.AddConstraint(
                    model_name='observationround',
                    constraint=models.CheckConstraint(condition=models.Q(('pain_nrs__lte', 10)), name='observation_nrs_0_10'),
                ),
                migrations.AddConstraint(
                    model_name='observationround',
                    constraint=models.CheckConstraint(condition=models.Q(('spo2_scale__in', [1, 2])), name='observation_spo2_scale_1_or_2'),
                ),
                migrations.AddConstraint(
                    model_name='escalation',
                    constraint=models.CheckConstraint(condition=models.Q(('physician__isnull', False), models.Q(('called_whom', ''), _negated=True), _connector='OR'), name='escalation_names_who_was_called'),
                ),
                migrations.AddConstraint(
                    model_name='amendment',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('answer__isnull', False), ('assessment__isnull', True), ('round__isnull', True)), models.Q(('answer__isnull', True), ('assessment__isnull', True), ('round__isnull', False)), models.Q(('answer__isnull', True), ('assessment__isnull', False), ('round__isnull', True)), _connector='OR'), name='amendment_exactly_one_record'),
                ),
                migrations.AddConstraint(
                    model_name='amendment',
                    constraint=models.CheckConstraint(condition=models.Q(('reason', ''), _negated=True), name='amendment_has_reason'),
                ),
                migrations.AddConstraint(
                    model_name='procedureprotocol',
                    constraint=models.CheckConstraint(condition=models.Q(('discharge_threshold__gte', 1), ('discharge_threshold__lte', 10)), name='procedure_protocol_threshold_range'),
                ),
                migrations.AddConstraint(
                    model_name='procedureprotocol',
                    constraint=models.CheckConstraint(condition=models.Q(('observation_interval_minutes__gte', 5)), name='procedure_protocol_interval_positive'),
                ),
                migrations.AddConstraint(
                    model_name='timeoutconfirmation',
                    constraint=models.UniqueConstraint(fields=('appointment', 'role'), name='time_out_one_signature_per_role'),
                ),
            ],
            database_operations=[],
        ),
    ]

"""Logins, failed logins, lockouts and logouts in the audit trail; the plain-text API tokens
of rest_framework.authtoken dropped (django-rest-knox keeps only hashes: fetch a new token)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('clinic', '0005_nursing_models_leave_clinic'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('view', 'Viewed'), ('create', 'Created'), ('change', 'Changed'), ('delete', 'Deleted'), ('export', 'Exported'), ('login', 'Logged in'), ('login_failed', 'Login failed'), ('locked_out', 'Locked out'), ('logout', 'Logged out')], max_length=20),
        ),
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", migrations.RunSQL.noop),
    ]

"""PostgreSQL refuses overlapping active appointments for one room, physician, patient or bay.

Exclusion constraints over half-open `[)` time ranges, so one booking may start exactly when
the previous one ends. Cancelled and no-show appointments do not hold their time.
SQLite has no exclusion constraints: there `scheduling.services` checks inside an IMMEDIATE
transaction, which serialises writers.
"""

from django.db import migrations

ACTIVE = "status NOT IN ('cancelled', 'no_show')"
CONSTRAINTS = {
    "appointment_room_no_overlap": f"room_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) WHERE ({ACTIVE}",
    "appointment_physician_no_overlap": f"physician_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) WHERE ({ACTIVE}",
    "appointment_patient_no_overlap": f"patient_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) WHERE ({ACTIVE}",
    "appointment_recovery_bay_no_overlap": (
        "recovery_bay_id WITH =, tstzrange(recovery_starts_at, recovery_ends_at, '[)') WITH &&) "
        f"WHERE (recovery_bay_id IS NOT NULL AND {ACTIVE}"
    ),
}


def add_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for name, body in CONSTRAINTS.items():
        schema_editor.execute(
            f"ALTER TABLE scheduling_appointment ADD CONSTRAINT {name} EXCLUDE USING gist ({body})"
        )


def remove_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE scheduling_appointment DROP CONSTRAINT {name}")


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]

    operations = [migrations.RunPython(add_constraints, remove_constraints)]

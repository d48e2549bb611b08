"""Seeds the staff role groups and the procedure catalogue.

The catalogue follows ../shared/reference/clinical.md (procedure list; bleeding-risk
categories from ASRA Pain Medicine, Narouze et al., Reg Anesth Pain Med 2018;43:225-62).
Times are starting points that a manager edits to the clinic's own practice.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

FLUORO = ["fluoroscopy"]
FLUORO_SEDATION = ["fluoroscopy", "sedation"]
AXIAL = ["cervical", "thoracic", "lumbar"]

# code, name, category, regions, laterality, level, minutes, recovery, capabilities, risk, sedation
CATALOGUE = [
    ("esi-interlaminar", "Epidural steroid injection, interlaminar", "therapeutic", AXIAL,
     False, True, 20, 30, FLUORO, "intermediate", "none"),
    ("esi-transforaminal", "Epidural steroid injection, transforaminal", "therapeutic",
     ["cervical", "lumbar", "sacral"], True, True, 25, 30, FLUORO, "intermediate", "none"),
    ("esi-caudal", "Epidural steroid injection, caudal", "therapeutic", ["sacral"],
     False, False, 15, 30, FLUORO, "intermediate", "none"),
    ("facet-injection", "Facet joint injection", "therapeutic", AXIAL,
     True, True, 20, 30, FLUORO, "intermediate", "none"),
    ("medial-branch-block", "Medial branch block (diagnostic)", "diagnostic", AXIAL,
     True, True, 20, 30, FLUORO, "intermediate", "none"),
    ("rfa", "Radiofrequency ablation", "therapeutic", [*AXIAL, "sacral"],
     True, True, 45, 45, ["fluoroscopy", "rf_generator"], "intermediate", "mild"),
    ("si-joint-injection", "Sacroiliac joint injection", "therapeutic", ["sacral"],
     True, False, 15, 30, FLUORO, "low", "none"),
    ("nerve-root-block", "Selective nerve root block", "diagnostic", [*AXIAL, "sacral"],
     True, True, 20, 30, FLUORO, "intermediate", "none"),
    ("peripheral-nerve-block", "Peripheral nerve block", "therapeutic", ["peripheral"],
     True, False, 15, 20, ["ultrasound"], "low", "none"),
    ("scs-trial", "Spinal cord stimulator trial", "implant", ["cervical", "thoracic"],
     False, True, 60, 60, FLUORO_SEDATION, "high", "mild"),
    ("scs-implant", "Spinal cord stimulator implant", "implant", ["cervical", "thoracic"],
     False, True, 120, 90, FLUORO_SEDATION, "high", "moderate"),
    ("intrathecal-pump", "Intrathecal drug delivery pump", "implant", ["lumbar"],
     False, True, 120, 120, FLUORO_SEDATION, "high", "moderate"),
    ("epiduroscopy", "Epiduroscopy with adhesiolysis", "therapeutic", ["lumbar", "sacral"],
     False, True, 60, 60, FLUORO_SEDATION, "high", "mild"),
    ("percutaneous-discectomy", "Percutaneous discectomy", "therapeutic", ["cervical", "lumbar"],
     True, True, 60, 60, FLUORO_SEDATION, "high", "mild"),
    ("vertebroplasty", "Vertebroplasty", "therapeutic", ["thoracic", "lumbar"],
     False, True, 60, 90, FLUORO_SEDATION, "high", "mild"),
    ("kyphoplasty", "Kyphoplasty", "therapeutic", ["thoracic", "lumbar"],
     False, True, 75, 90, FLUORO_SEDATION, "high", "mild"),
    ("discography", "Discography", "diagnostic", AXIAL,
     False, True, 45, 45, FLUORO, "intermediate", "mild"),
]


def seed_catalogue(apps, schema_editor):
    ProcedureType = apps.get_model("clinic", "ProcedureType")
    for (code, name, category, regions, laterality, level, minutes, recovery, capabilities,
         risk, sedation) in CATALOGUE:
        ProcedureType.objects.update_or_create(
            code=code,
            defaults=dict(
                name=name,
                category=category,
                regions=regions,
                needs_laterality=laterality,
                needs_level=level,
                procedure_minutes=minutes,
                setup_minutes=15 if sedation != "none" else 10,
                turnover_minutes=10,
                recovery_minutes=recovery,
                required_capabilities=capabilities,
                bleeding_risk=risk,
                typical_sedation=sedation,
            ),
        )


def seed_role_groups(apps, schema_editor):
    from clinic.roles import sync_role_groups

    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(seed_catalogue, migrations.RunPython.noop),
        migrations.RunPython(seed_role_groups, migrations.RunPython.noop),
    ]

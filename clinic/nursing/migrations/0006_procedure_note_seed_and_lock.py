"""Issue 14: the procedure note's templates and complication list (clinic data a manager
edits), and the database's refusal to change a signed note other than by amendment.

The templates only pre-fill a new note; every value is the physician's to change. Drugs
and concentrations are common practice (non-particulate steroid for transforaminal
injections: Rathmell et al., Anesthesiology 2015;122:974-84); the clinic confirms them.
"""

from django.db import migrations

IOHEXOL = "Iohexol 300 mgI/mL"
LIDOCAINE_SKIN = {"drug": "Lidocaine", "dose": "", "volume": "2 mL", "concentration": "1%"}
FLUORO_PLAN = "Follow-up survey as planned; review in clinic after the follow-up period."


def row(drug, dose="", volume="", concentration=""):
    return {"drug": drug, "dose": dose, "volume": volume, "concentration": concentration}


# code: approach, imaging, contrast, injectates, needle, records RF
TEMPLATES = {
    "esi-interlaminar": (
        "Interlaminar, paramedian; loss of resistance to saline",
        "fluoroscopy", IOHEXOL,
        [LIDOCAINE_SKIN, row("Triamcinolone", "40 mg", "1 mL", "40 mg/mL"),
         row("Sodium chloride", "", "3 mL", "0.9%")],
        "18G Tuohy, 3.5 in", False,
    ),
    "esi-transforaminal": (
        "Transforaminal, subpedicular (safe triangle)",
        "fluoroscopy", IOHEXOL,
        [LIDOCAINE_SKIN, row("Dexamethasone", "10 mg", "2.5 mL", "4 mg/mL")],
        "22G Quincke spinal, 3.5 in", False,
    ),
    "esi-caudal": (
        "Caudal, via the sacral hiatus", "fluoroscopy", IOHEXOL,
        [LIDOCAINE_SKIN, row("Triamcinolone", "80 mg", "2 mL", "40 mg/mL"),
         row("Sodium chloride", "", "8 mL", "0.9%")],
        "20G Tuohy, 3.5 in", False,
    ),
    "facet-injection": (
        "Posterior, intra-articular", "fluoroscopy", IOHEXOL,
        [LIDOCAINE_SKIN, row("Bupivacaine", "", "0.5 mL", "0.5%"),
         row("Triamcinolone", "20 mg", "0.5 mL", "40 mg/mL")],
        "22G Quincke spinal, 3.5 in", False,
    ),
    "medial-branch-block": (
        "Posterior oblique, to the junction of the superior articular and transverse processes",
        "fluoroscopy", IOHEXOL,
        [row("Bupivacaine", "", "0.5 mL per nerve", "0.5%")],
        "22G Quincke spinal, 3.5 in", False,
    ),
    "rfa": (
        "Posterior oblique, cannula parallel to the medial branch",
        "fluoroscopy", "",
        [LIDOCAINE_SKIN, row("Lidocaine", "", "1 mL per lesion", "2%")],
        "18G RF cannula, 100 mm, 10 mm active tip", True,
    ),
    "si-joint-injection": (
        "Posterior, inferior third of the joint", "fluoroscopy", IOHEXOL,
        [LIDOCAINE_SKIN, row("Bupivacaine", "", "1 mL", "0.5%"),
         row("Triamcinolone", "40 mg", "1 mL", "40 mg/mL")],
        "22G Quincke spinal, 3.5 in", False,
    ),
    "nerve-root-block": (
        "Transforaminal, to the exiting nerve root", "fluoroscopy", IOHEXOL,
        [row("Bupivacaine", "", "1 mL", "0.5%")],
        "22G Quincke spinal, 3.5 in", False,
    ),
    "peripheral-nerve-block": (
        "In-plane, ultrasound-guided", "ultrasound", "",
        [row("Bupivacaine", "", "5 mL", "0.25%")], "22G block needle, 50 mm", False,
    ),
}
DEFAULT = ("", "fluoroscopy", IOHEXOL, [LIDOCAINE_SKIN], "", False)

COMPLICATIONS = [
    ("vasovagal", "Vasovagal reaction"),
    ("intravascular", "Intravascular contrast pattern (needle repositioned)"),
    ("dural-puncture", "Dural puncture"),
    ("paraesthesia", "Paraesthesia during needle placement"),
    ("bleeding", "Bleeding or haematoma at the puncture site"),
    ("hypotension", "Hypotension"),
    ("la-toxicity", "Local anaesthetic systemic toxicity"),
    ("allergic", "Allergic reaction"),
    ("motor-block", "Transient motor block"),
    ("abandoned", "Procedure abandoned"),
    ("other", "Other (described in the note)"),
]


def seed(apps, schema_editor):
    ProcedureType = apps.get_model("clinic", "ProcedureType")
    Template = apps.get_model("nursing", "ProcedureNoteTemplate")
    Complication = apps.get_model("nursing", "Complication")
    for procedure_type in ProcedureType.objects.all():
        approach, imaging, contrast, injectates, needle, records_rf = TEMPLATES.get(
            procedure_type.code, DEFAULT
        )
        Template.objects.get_or_create(
            procedure_type=procedure_type,
            defaults={
                "approach": approach,
                "imaging_modality": imaging,
                "contrast_agent": contrast,
                "injectates": injectates,
                "needle": needle,
                "records_rf": records_rf,
                "rf_temperature_c": 80 if records_rf else None,
                "rf_seconds": 90 if records_rf else None,
                "plan": FLUORO_PLAN,
            },
        )
    for order, (code, label) in enumerate(COMPLICATIONS):
        Complication.objects.get_or_create(code=code, defaults={"label": label, "order": order})


# A signed note changes only with an amendment: `revision` up by one and an amendment row
# of that revision already written (the service writes it first). Signature and
# appointment never change; a signed note is never deleted.
POSTGRES_UP = """
CREATE OR REPLACE FUNCTION nursing_procedurenote_guard() RETURNS trigger AS $$
BEGIN
    IF OLD.signed_at IS NULL THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a signed procedure note is never deleted'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.signed_at IS DISTINCT FROM OLD.signed_at
        OR NEW.signed_by_id IS DISTINCT FROM OLD.signed_by_id
        OR NEW.appointment_id IS DISTINCT FROM OLD.appointment_id
        OR NEW.revision IS DISTINCT FROM OLD.revision + 1
        OR NOT EXISTS (
            SELECT 1 FROM nursing_procedurenoteamendment a
            WHERE a.note_id = NEW.id AND a.revision = NEW.revision
        )
    THEN
        RAISE EXCEPTION 'a signed procedure note changes only by amendment'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER nursing_procedurenote_signed_is_final
    BEFORE UPDATE OR DELETE ON nursing_procedurenote
    FOR EACH ROW EXECUTE FUNCTION nursing_procedurenote_guard();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS nursing_procedurenote_signed_is_final ON nursing_procedurenote;
DROP FUNCTION IF EXISTS nursing_procedurenote_guard();
"""
SQLITE_UP = [
    """CREATE TRIGGER nursing_procedurenote_signed_update BEFORE UPDATE ON nursing_procedurenote
    WHEN OLD.signed_at IS NOT NULL AND (
        NEW.signed_at IS NOT OLD.signed_at
        OR NEW.signed_by_id IS NOT OLD.signed_by_id
        OR NEW.appointment_id IS NOT OLD.appointment_id
        OR NEW.revision IS NOT OLD.revision + 1
        OR NOT EXISTS (
            SELECT 1 FROM nursing_procedurenoteamendment a
            WHERE a.note_id = NEW.id AND a.revision = NEW.revision
        )
    )
    BEGIN SELECT RAISE(ABORT, 'a signed procedure note changes only by amendment'); END;""",
    """CREATE TRIGGER nursing_procedurenote_signed_delete BEFORE DELETE ON nursing_procedurenote
    WHEN OLD.signed_at IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'a signed procedure note is never deleted'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS nursing_procedurenote_signed_update",
    "DROP TRIGGER IF EXISTS nursing_procedurenote_signed_delete",
]


def lock_signed(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": [POSTGRES_UP], "sqlite": SQLITE_UP}.get(vendor, []):
        schema_editor.execute(statement, None)


def unlock_signed(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": [POSTGRES_DOWN], "sqlite": SQLITE_DOWN}.get(vendor, []):
        schema_editor.execute(statement, None)


class Migration(migrations.Migration):

    dependencies = [
        ("nursing", "0005_procedure_note"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(lock_signed, unlock_signed),
    ]

"""Moving the nursing models into their own app (issue 9) loses nothing.

The database is taken back to the schema before the move, records are written there through
the historical models, and the database is migrated forward again, as an existing clinic's
would be. Transactional with serialized rollback: migrations run outside a test transaction,
and the other tests get their seeded data back afterwards. Audit rows written before the
move read as the new ones do.
"""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from clinic.audit import object_type_display
from clinic.models import AuditEvent
from clinic.nursing.models import ChecklistAnswer, ChecklistItem, HardStopOverride, ObservationRound

LAST_BEFORE_THE_MOVE = ("clinic", "0004_seed_nursing_protocols")
# The other apps as they were at the move (later migrations of theirs need the newer core).
OTHERS_AT_THE_MOVE = [
    ("scheduling", "0002_no_double_booking"),
    ("followup", "0005_reschedule_request_one_open"),
]
NURSING_MODELS = [
    "checklistitem",
    "anticoagulanthold",
    "procedureprotocol",
    "checklistanswer",
    "timeoutconfirmation",
    "hardstopoverride",
    "observationround",
    "escalation",
    "dischargeassessment",
    "discharge",
    "amendment",
    "historicalchecklistitem",
    "historicalchecklistitem_procedure_types",
    "historicalanticoagulanthold",
    "historicalprocedureprotocol",
]


def write_records_before_the_move(old, appointment_pk):
    """A checklist item with its history, an answer, an override and a round, and a nurse
    of the Nurse group, as the clinic app had them."""
    Group_ = old.get_model("auth", "Group")
    User_ = old.get_model("auth", "User")
    ContentType_ = old.get_model("contenttypes", "ContentType")
    Permission_ = old.get_model("auth", "Permission")
    nurse_group = Group_.objects.get(name="Nurse")
    assert nurse_group.permissions.filter(
        content_type__app_label="clinic", codename="add_observationround"
    ).exists()
    nurse = User_.objects.create(username="nurse.before", password="!")
    nurse.groups.add(nurse_group)
    nurse.user_permissions.add(
        Permission_.objects.get(content_type__app_label="clinic", codename="override_hard_stop")
    )
    # As if post_migrate had run with the new app already: a "nursing" content type and
    # permission beside the "clinic" ones for one model.
    early = ContentType_.objects.create(app_label="nursing", model="observationround")
    Permission_.objects.create(
        content_type=early, codename="add_observationround", name="Can add observation round"
    )

    ProcedureType = old.get_model("clinic", "ProcedureType")
    ChecklistItem_ = old.get_model("clinic", "ChecklistItem")
    HistoricalChecklistItem = old.get_model("clinic", "HistoricalChecklistItem")
    HistoricalItemTypes = old.get_model("clinic", "HistoricalChecklistItem_procedure_types")
    procedure_type = ProcedureType.objects.get(code="esi-transforaminal")
    item = ChecklistItem_.objects.create(
        code="before-move", label="Asked before the move", phase="pre_procedure", kind="yes_no"
    )
    item.procedure_types.add(procedure_type)
    version = HistoricalChecklistItem.objects.create(
        id=item.pk,
        code=item.code,
        label=item.label,
        phase=item.phase,
        kind=item.kind,
        history_date=timezone.now(),
        history_type="+",
        history_user_id=nurse.pk,
    )
    HistoricalItemTypes.objects.create(
        id=ChecklistItem_.procedure_types.through.objects.get(checklistitem=item).pk,
        history=version,
        checklistitem=item,
        proceduretype=procedure_type,
    )
    now = timezone.now()
    old.get_model("clinic", "ChecklistAnswer").objects.create(
        appointment_id=appointment_pk,
        item=item,
        value="yes",
        entered_by_id=nurse.pk,
        signed_by_id=nurse.pk,
        signed_at=now,
    )
    old.get_model("clinic", "HardStopOverride").objects.create(
        appointment_id=appointment_pk,
        to_status="in_procedure",
        failures="Consent form signed: answered No.",
        reason="Verbal consent witnessed",
        by_id=nurse.pk,
    )
    old.get_model("clinic", "ObservationRound").objects.create(
        appointment_id=appointment_pk,
        taken_at=now - datetime.timedelta(minutes=5),
        respiration_rate=16,
        spo2=97,
        systolic_bp=128,
        diastolic_bp=78,
        pulse=72,
        temperature=Decimal("36.8"),
        pain_nrs=3,
        news2_total=0,
        news2_risk="low",
        signed_by_id=nurse.pk,
    )
    return set(nurse_group.permissions.values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_keeps_records_history_and_permissions_through_the_move(book):
    appointment = book()
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    before = [LAST_BEFORE_THE_MOVE, *OTHERS_AT_THE_MOVE]
    try:
        old = executor.migrate(before).apps
        nurse_permissions = write_records_before_the_move(old, appointment.pk)
    finally:
        executor.loader.build_graph()  # what is applied now
        executor.migrate(latest)
        ContentType.objects.clear_cache()

    item = ChecklistItem.objects.get(code="before-move")
    assert list(item.procedure_types.values_list("code", flat=True)) == ["esi-transforaminal"]
    version = item.history.get()
    assert version.label == "Asked before the move" and version.history_user.username
    assert [t.proceduretype.code for t in version.procedure_types.all()] == ["esi-transforaminal"]
    assert ChecklistAnswer.objects.get(item=item, appointment=appointment).value == "yes"
    override = HardStopOverride.objects.get(appointment=appointment)
    assert override.reason == "Verbal consent witnessed"
    round_ = ObservationRound.objects.get(appointment=appointment)
    assert (round_.pulse, round_.temperature) == (72, Decimal("36.8"))

    nurse = User.objects.get(username="nurse.before")
    assert nurse.has_perm("nursing.add_observationround")
    assert nurse.has_perm("nursing.change_checklistanswer")
    assert nurse.has_perm("nursing.override_hard_stop")  # granted to the user, not the group
    assert not nurse.has_perm("clinic.add_observationround")
    group = set(Group.objects.get(name="Nurse").permissions.values_list("pk", flat=True))
    # The same permission rows, but for the one that existed twice: the "nursing" row stays.
    assert len(group) == len(nurse_permissions)
    assert len(group - nurse_permissions) == 1
    assert not ContentType.objects.filter(app_label="clinic", model__in=NURSING_MODELS).exists()
    # Models added to nursing later (the procedure note, issue 14) are not part of the move.
    moved = ContentType.objects.filter(app_label="nursing", model__in=NURSING_MODELS)
    assert moved.count() == len(NURSING_MODELS)


def test_it_shows_audit_rows_from_before_the_move_like_the_new_ones(client, manager, patient):
    for label in ("clinic.ObservationRound", "nursing.ObservationRound"):
        AuditEvent.objects.create(action="create", object_type=label, patient=patient)
    AuditEvent.objects.create(action="view", object_type="clinic.Patient", patient=patient)
    assert object_type_display("clinic.ObservationRound") == "Observation round"
    assert object_type_display("nursing.ObservationRound") == "Observation round"
    assert object_type_display("gone.Model") == "gone.Model"

    client.force_login(manager)
    url = reverse("admin:clinic_auditevent_changelist")
    page = client.get(url).content.decode()
    assert page.count('<td class="field-object_type_shown">Observation round</td>') == 2
    assert "clinic.ObservationRound" not in page
    filtered = client.get(url, {"object_type": "Observation round"})
    assert sorted(e.object_type for e in filtered.context["cl"].result_list) == [
        "clinic.ObservationRound",
        "nursing.ObservationRound",
    ]

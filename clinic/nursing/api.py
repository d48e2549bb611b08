"""JSON API twins of the perioperative record, with the same rules as the pages.

Refusals by a rule answer 409 in the one shape of clinic.api_errors; invalid values
answer 400 naming the field.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.api_permissions import ClinicalMethodPermissions
from clinic.api_support import (
    DATETIME_MAPPING,
    NUL_MESSAGE,
    UserField,
    body_object,
    contains_nul,
    no_nul,
)
from clinic.audit import audit_record
from clinic.models import AuditEvent
from clinic.nursing import rules, services
from clinic.nursing.forms import physicians
from clinic.nursing.models import (
    Amendment,
    ChecklistAnswer,
    ChecklistItem,
    Discharge,
    DischargeAssessment,
    Escalation,
    HardStopOverride,
    ObservationRound,
    ProcedureNote,
    ProcedureNoteAmendment,
    TimeOutConfirmation,
)
from scheduling.models import Appointment, Status


def invalid(exc: DjangoValidationError) -> Response:
    body = exc.message_dict if hasattr(exc, "error_dict") else {"value": exc.messages}
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


class AmendmentSerializer(serializers.ModelSerializer):
    by = UserField(read_only=True)

    class Meta:
        model = Amendment
        fields = ["field", "old_value", "new_value", "reason", "by", "at"]


class ChecklistItemSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text="yes_no, yes_no_na, number, ...")

    class Meta:
        model = ChecklistItem
        fields = [
            "code",
            "label",
            "phase",
            "kind",
            "required",
            "hard_stop",
            "overridable",
            "fail_values",
            "unit",
            "min_value",
            "max_value",
            "choices",
            "help_text",
        ]


class ChecklistAnswerSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="code", read_only=True)
    display = serializers.CharField(source="display_value", read_only=True)
    entered_by = UserField(read_only=True)
    signed_by = UserField(read_only=True)
    amendments = AmendmentSerializer(many=True, read_only=True)

    class Meta:
        model = ChecklistAnswer
        fields = [
            "id",
            "item",
            "value",
            "display",
            "entered_by",
            "entered_at",
            "signed_by",
            "signed_at",
            "amendments",
        ]


class AnswerInSerializer(serializers.Serializer):
    item = serializers.CharField(help_text="The item's code, e.g. consent.")
    value = serializers.JSONField(validators=[no_nul])


class AnswersInSerializer(serializers.Serializer):
    answers = AnswerInSerializer(many=True, allow_empty=False)


class HardStopOverrideSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="code", read_only=True)
    stop_label = serializers.CharField(read_only=True)
    by = UserField(read_only=True)

    class Meta:
        model = HardStopOverride
        fields = ["stop", "item", "stop_label", "to_status", "failures", "reason", "by", "at"]


class ChecklistBodySerializer(serializers.Serializer):
    appointment = serializers.IntegerField()
    status = serializers.CharField()
    items = ChecklistItemSerializer(many=True)
    answers = ChecklistAnswerSerializer(many=True)
    time_out_confirmed_by = serializers.DictField()
    start_blockers = serializers.ListField(child=serializers.CharField())
    hard_stops = serializers.ListField(
        child=serializers.CharField(),
        help_text="Failed hard stops of the signed checks that no physician overrode: the "
        "procedure cannot start.",
    )
    overrides = HardStopOverrideSerializer(many=True, help_text="One per overridden stop.")


def checklist_body(appointment) -> dict:
    state = rules.checklist_state(appointment)
    answers = (
        ChecklistAnswer.objects.filter(appointment=appointment)
        .select_related("item", "entered_by", "signed_by")
        .prefetch_related("amendments__by")
    )
    overrides = list(
        HardStopOverride.objects.filter(appointment=appointment).select_related("by", "item")
    )
    return {
        "appointment": appointment.pk,
        "status": appointment.status,
        "items": ChecklistItemSerializer(state.items, many=True).data,
        "answers": ChecklistAnswerSerializer(answers, many=True).data,
        "time_out_confirmed_by": {
            role: {"id": s.signed_by_id, "at": s.signed_at} for role, s in state.signatures.items()
        },
        "start_blockers": rules.start_blockers(appointment, state),
        "hard_stops": rules.hard_stops(
            appointment, state, overridden={o.stop for o in overrides if o.item_id}
        ),
        "overrides": HardStopOverrideSerializer(overrides, many=True).data,
    }


def _appointment(pk) -> Appointment:
    return get_object_or_404(
        Appointment.objects.select_related("patient", "procedure_type", "site"), pk=pk
    )


def _audit_view(request, appointment, what):
    audit_record(
        request=request,
        action=AuditEvent.Action.VIEW,
        obj=appointment,
        patient=appointment.patient,
        detail=f"{what} (API)",
    )


class ChecklistView(APIView):
    """The checklist of an appointment: GET reads it with what still blocks the start;
    POST signs answers given as {"answers": [{"item": code, "value": ...}]}."""

    permission_classes = [ClinicalMethodPermissions]
    permissions = {
        "GET": ["nursing.view_checklistanswer"],
        "POST": ["nursing.add_checklistanswer"],
    }

    @extend_schema(responses=ChecklistBodySerializer)
    def get(self, request, pk):
        appointment = _appointment(pk)
        _audit_view(request, appointment, "checklist")
        return Response(checklist_body(appointment))

    @extend_schema(request=AnswersInSerializer, responses={201: ChecklistBodySerializer})
    def post(self, request, pk):
        appointment = _appointment(pk)
        payload = AnswersInSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        codes = [a["item"] for a in payload.validated_data["answers"]]
        items = {i.code: i for i in rules.applicable_items(appointment)}
        unknown = [code for code in codes if code not in items]
        if unknown:
            return Response(
                {
                    "answers": [
                        f"Not an item of this appointment's checklist: {', '.join(unknown)}."
                    ]
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        values = {items[a["item"]]: a["value"] for a in payload.validated_data["answers"]}
        try:
            services.checklist_save(
                actor=request.user, appointment=appointment, values=values, sign=True
            )
        except DjangoValidationError as exc:
            return Response({"answers": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
        return Response(checklist_body(appointment), status=status.HTTP_201_CREATED)


class AmendInSerializer(serializers.Serializer):
    value = serializers.JSONField(validators=[no_nul])
    reason = serializers.CharField()


class AnswerAmendView(APIView):
    """Amend a signed checklist answer: {"value": ..., "reason": "..."}."""

    permission_classes = [ClinicalMethodPermissions]
    permissions = {"POST": ["nursing.change_checklistanswer"]}

    @extend_schema(request=AmendInSerializer, responses={200: ChecklistAnswerSerializer})
    def post(self, request, pk):
        answer = get_object_or_404(ChecklistAnswer.objects.select_related("item"), pk=pk)
        payload = AmendInSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            services.answer_amend(
                actor=request.user,
                answer=answer,
                value=payload.validated_data["value"],
                reason=payload.validated_data["reason"],
            )
        except DjangoValidationError as exc:
            return invalid(exc)
        return Response(ChecklistAnswerSerializer(answer).data)


class TimeOutView(APIView):
    """Confirm the time-out as the calling user: {"role": "nurse" | "physician"}."""

    permission_classes = [ClinicalMethodPermissions]
    permissions = {"POST": ["nursing.add_timeoutconfirmation"]}

    @extend_schema(
        request=inline_serializer(
            "TimeOutIn", {"role": serializers.ChoiceField(TimeOutConfirmation.Role.choices)}
        ),
        responses={201: ChecklistBodySerializer},
    )
    def post(self, request, pk):
        appointment = _appointment(pk)
        role = body_object(request).get("role")
        if role not in TimeOutConfirmation.Role.values:
            return Response({"role": ["Choose nurse or physician."]}, status=400)
        services.time_out_confirm(actor=request.user, appointment=appointment, role=role)
        return Response(checklist_body(appointment), status=status.HTTP_201_CREATED)


class EscalationSerializer(serializers.ModelSerializer):
    serializer_field_mapping = DATETIME_MAPPING
    physician = serializers.PrimaryKeyRelatedField(
        queryset=physicians(), required=False, allow_null=True
    )
    recorded_by = UserField(read_only=True)

    class Meta:
        model = Escalation
        fields = ["id", "physician", "called_whom", "called_at", "note", "recorded_by"]
        read_only_fields = ["recorded_by"]
        extra_kwargs = {"called_at": {"required": False}}


class ObservationRoundSerializer(serializers.ModelSerializer):
    serializer_field_mapping = DATETIME_MAPPING
    signed_by = UserField(read_only=True)
    needs_escalation = serializers.BooleanField(read_only=True)
    unusual_fields = serializers.ListField(read_only=True)
    escalations = EscalationSerializer(many=True, read_only=True)
    amendments = AmendmentSerializer(many=True, read_only=True)

    class Meta:
        model = ObservationRound
        fields = [
            "id",
            "taken_at",
            *ObservationRound.ENTERED_FIELDS,
            "news2_total",
            "news2_risk",
            "news2_scores",
            "needs_escalation",
            "unusual_fields",
            "signed_by",
            "signed_at",
            "escalations",
            "amendments",
        ]
        read_only_fields = ["news2_total", "news2_risk", "news2_scores", "signed_at"]
        extra_kwargs = {"taken_at": {"required": False}}


class RoundListView(APIView):
    """Observation rounds of an appointment; POST records one and answers with its NEWS2
    (RCP 2017) and whether the physician must be called."""

    permission_classes = [ClinicalMethodPermissions]
    permissions = {
        "GET": ["nursing.view_observationround"],
        "POST": ["nursing.add_observationround"],
    }

    @extend_schema(responses=ObservationRoundSerializer(many=True))
    def get(self, request, pk):
        appointment = _appointment(pk)
        _audit_view(request, appointment, "observation rounds")
        rounds = appointment.observation_rounds.select_related("signed_by").prefetch_related(
            "escalations__physician", "escalations__recorded_by", "amendments__by"
        )
        return Response(ObservationRoundSerializer(rounds, many=True).data)

    @extend_schema(request=ObservationRoundSerializer, responses={201: ObservationRoundSerializer})
    def post(self, request, pk):
        appointment = _appointment(pk)
        serializer = ObservationRoundSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            round_ = services.round_record(
                actor=request.user, appointment=appointment, data=serializer.validated_data
            )
        except DjangoValidationError as exc:
            return invalid(exc)
        return Response(ObservationRoundSerializer(round_).data, status=status.HTTP_201_CREATED)


class RoundAmendInSerializer(serializers.Serializer):
    field = serializers.ChoiceField(services.ROUND_AMENDABLE)
    value = serializers.JSONField(validators=[no_nul])
    reason = serializers.CharField()


class RoundAmendView(APIView):
    """Amend one value of a signed round: {"field", "value", "reason"}; NEWS2 is scored again."""

    permission_classes = [ClinicalMethodPermissions]
    permissions = {"POST": ["nursing.change_observationround"]}

    @extend_schema(request=RoundAmendInSerializer, responses={200: ObservationRoundSerializer})
    def post(self, request, pk):
        round_ = get_object_or_404(ObservationRound, pk=pk)
        payload = RoundAmendInSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            services.round_amend(actor=request.user, round_=round_, **payload.validated_data)
        except DjangoValidationError as exc:
            return invalid(exc)
        return Response(ObservationRoundSerializer(round_).data)


class EscalationView(APIView):
    """Record who was called about a round in an escalation band."""

    permission_classes = [ClinicalMethodPermissions]
    permissions = {"POST": ["nursing.add_escalation"]}

    @extend_schema(request=EscalationSerializer, responses={201: EscalationSerializer})
    def post(self, request, pk):
        round_ = get_object_or_404(ObservationRound, pk=pk)
        serializer = EscalationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        escalation = services.escalation_record(
            actor=request.user, round_=round_, **serializer.validated_data
        )
        return Response(EscalationSerializer(escalation).data, status=status.HTTP_201_CREATED)


class DischargeAssessmentSerializer(serializers.ModelSerializer):
    signed_by = UserField(read_only=True)
    is_ready = serializers.BooleanField(read_only=True)
    amendments = AmendmentSerializer(many=True, read_only=True)

    class Meta:
        model = DischargeAssessment
        fields = [
            "id",
            "scale",
            "scores",
            "total",
            "threshold",
            "is_ready",
            "signed_by",
            "signed_at",
            "amendments",
        ]
        read_only_fields = ["scale", "total", "threshold", "signed_at"]


class AssessmentListView(APIView):
    """Discharge scores of an appointment; POST scores the protocol's scale from
    {"scores": {item code: 0|1|2}} (Modified Aldrete, Aldrete 1995; Modified PADSS,
    Chung 1995)."""

    permission_classes = [ClinicalMethodPermissions]
    permissions = {
        "GET": ["nursing.view_dischargeassessment"],
        "POST": ["nursing.add_dischargeassessment"],
    }

    @extend_schema(responses=DischargeAssessmentSerializer(many=True))
    def get(self, request, pk):
        appointment = _appointment(pk)
        _audit_view(request, appointment, "discharge scores")
        assessments = appointment.discharge_assessments.select_related(
            "signed_by"
        ).prefetch_related("amendments__by")
        return Response(DischargeAssessmentSerializer(assessments, many=True).data)

    @extend_schema(
        request=DischargeAssessmentSerializer,
        responses={201: DischargeAssessmentSerializer},
    )
    def post(self, request, pk):
        appointment = _appointment(pk)
        scores = body_object(request).get("scores")
        if not isinstance(scores, dict):
            return Response({"scores": ["Send the item scores as an object."]}, status=400)
        try:
            assessment = services.assessment_record(
                actor=request.user, appointment=appointment, scores=scores
            )
        except DjangoValidationError as exc:
            return invalid(exc)
        return Response(
            DischargeAssessmentSerializer(assessment).data, status=status.HTTP_201_CREATED
        )


class DischargeSerializer(serializers.ModelSerializer):
    discharged_by = UserField(read_only=True)
    instructions_language = serializers.CharField(read_only=True)

    class Meta:
        model = Discharge
        fields = [
            "discharged_at",
            "discharged_by",
            "assessment",
            "instructions",
            "instructions_language",
        ]


class DischargeView(APIView):
    """GET: what still blocks the discharge. POST {"override_reason": ""} discharges under
    the same criteria as the page (a physician may override with a reason)."""

    permission_classes = [ClinicalMethodPermissions]
    permissions = {"GET": ["nursing.view_discharge"], "POST": ["nursing.add_discharge"]}

    @extend_schema(
        responses=inline_serializer(
            "DischargeState",
            {
                "status": serializers.CharField(),
                "blockers": serializers.ListField(child=serializers.CharField()),
                "discharge": DischargeSerializer(allow_null=True),
            },
        )
    )
    def get(self, request, pk):
        appointment = _appointment(pk)
        given = Discharge.objects.filter(appointment=appointment).first()
        _audit_view(request, appointment, "discharge")
        return Response(
            {
                "status": appointment.status,
                "blockers": rules.discharge_blockers(appointment)
                if appointment.status == Status.IN_RECOVERY
                else [],
                "discharge": DischargeSerializer(given).data if given else None,
            }
        )

    @extend_schema(
        request=inline_serializer(
            "DischargeIn", {"override_reason": serializers.CharField(required=False)}
        ),
        responses={201: DischargeSerializer},
    )
    def post(self, request, pk):
        appointment = _appointment(pk)
        override_reason = str(body_object(request).get("override_reason", ""))
        if contains_nul(override_reason):
            return Response({"override_reason": [NUL_MESSAGE]}, status=400)
        given = services.patient_discharge(
            actor=request.user, appointment=appointment, override_reason=override_reason
        )
        return Response(DischargeSerializer(given).data, status=status.HTTP_201_CREATED)


# --- The physician's procedure note --------------------------------------------------


class NoteAmendmentSerializer(serializers.ModelSerializer):
    by = UserField(read_only=True)

    class Meta:
        model = ProcedureNoteAmendment
        fields = ["revision", "field", "old_value", "new_value", "reason", "by", "at"]


class ProcedureNoteSerializer(serializers.ModelSerializer):
    written_by = UserField(read_only=True)
    signed_by = UserField(read_only=True)
    procedure_type = serializers.CharField(source="appointment.procedure_type.code", read_only=True)
    records_rf = serializers.BooleanField(read_only=True)
    amendments = NoteAmendmentSerializer(many=True, read_only=True)

    class Meta:
        model = ProcedureNote
        fields = [
            "id",
            "appointment",
            "procedure_type",
            *ProcedureNote.AMENDABLE,
            "records_rf",
            "written_by",
            "written_at",
            "signed_by",
            "signed_at",
            "revision",
            "amendments",
        ]
        read_only_fields = fields


class NoteBodySerializer(serializers.Serializer):
    note = ProcedureNoteSerializer(allow_null=True, help_text="Null until a physician writes it.")
    contrast_allergy = serializers.BooleanField(
        help_text="The patient has a contrast-medium or iodine allergy on record."
    )


class NoteValuesSerializer(serializers.ModelSerializer):
    """The note's values; each may be left out (a draft keeps what it had)."""

    injectates = serializers.JSONField(
        required=False,
        validators=[no_nul],
        help_text="[{drug, dose, volume, concentration}], text each, e.g. "
        '[{"drug": "Dexamethasone", "dose": "10 mg", "volume": "2.5 mL", '
        '"concentration": "4 mg/mL"}]',
    )
    sedation = serializers.JSONField(
        required=False, validators=[no_nul], help_text="[{drug, dose}], text each."
    )
    complications = serializers.JSONField(
        required=False,
        validators=[no_nul],
        help_text="Codes of the clinic's complication list; empty for none.",
    )

    class Meta:
        model = ProcedureNote
        fields = list(ProcedureNote.AMENDABLE)
        extra_kwargs = {name: {"required": False} for name in ProcedureNote.AMENDABLE}


class NoteSaveInSerializer(NoteValuesSerializer):
    sign = serializers.BooleanField(
        required=False, default=False, help_text="Sign at once (a physician only)."
    )

    class Meta(NoteValuesSerializer.Meta):
        fields = [*NoteValuesSerializer.Meta.fields, "sign"]


class NoteAmendInSerializer(NoteValuesSerializer):
    reason = serializers.CharField()

    class Meta(NoteValuesSerializer.Meta):
        fields = [*NoteValuesSerializer.Meta.fields, "reason"]


def note_body(appointment) -> dict:
    note = (
        ProcedureNote.objects.select_related(
            "written_by", "signed_by", "appointment__procedure_type"
        )
        .prefetch_related("amendments__by")
        .filter(appointment=appointment)
        .first()
    )
    return {
        "note": ProcedureNoteSerializer(note).data if note else None,
        "contrast_allergy": bool(rules.contrast_allergies(appointment.patient)),
    }


class ProcedureNoteView(APIView):
    """The physician's procedure note of an appointment. GET reads it (null until
    written); POST writes the draft (created from the procedure type's template the first
    time) and, with "sign": true, signs it. A signed note is refused (409): amend it."""

    permission_classes = [ClinicalMethodPermissions]
    permissions = {
        "GET": ["nursing.view_procedurenote"],
        "POST": [services.NOTE_WRITE],
    }

    @extend_schema(responses=NoteBodySerializer)
    def get(self, request, pk):
        appointment = _appointment(pk)
        _audit_view(request, appointment, "procedure note")
        return Response(note_body(appointment))

    @extend_schema(request=NoteSaveInSerializer, responses={200: NoteBodySerializer})
    def post(self, request, pk):
        appointment = _appointment(pk)
        payload = NoteSaveInSerializer(data=body_object(request))
        payload.is_valid(raise_exception=True)
        values = dict(payload.validated_data)
        sign = values.pop("sign", False)
        try:
            services.note_save(
                actor=request.user, appointment=appointment, values=values, sign=sign
            )
        except DjangoValidationError as exc:
            return invalid(exc)
        return Response(note_body(appointment))


class ProcedureNoteSignView(APIView):
    """Sign the draft note as the physician; 409 says what is missing."""

    permission_classes = [ClinicalMethodPermissions]
    permissions = {"POST": [services.NOTE_SIGN]}

    @extend_schema(request=None, responses={200: NoteBodySerializer})
    def post(self, request, pk):
        appointment = _appointment(pk)
        note = get_object_or_404(ProcedureNote, appointment=appointment)
        services.note_sign(actor=request.user, note=note)
        return Response(note_body(appointment))


class ProcedureNoteAmendView(APIView):
    """Amend the signed note: the changed values and a "reason"; each change keeps its old
    and new value."""

    permission_classes = [ClinicalMethodPermissions]
    permissions = {"POST": [services.NOTE_AMEND]}

    @extend_schema(request=NoteAmendInSerializer, responses={200: NoteBodySerializer})
    def post(self, request, pk):
        appointment = _appointment(pk)
        note = get_object_or_404(ProcedureNote, appointment=appointment)
        payload = NoteAmendInSerializer(data=body_object(request))
        payload.is_valid(raise_exception=True)
        values = dict(payload.validated_data)
        reason = values.pop("reason")
        try:
            services.note_amend(actor=request.user, note=note, values=values, reason=reason)
        except DjangoValidationError as exc:
            return invalid(exc)
        return Response(note_body(appointment))

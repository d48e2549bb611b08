"""JSON API v1 for the clinic model: the same rules as the pages, through services."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import mixins, serializers, viewsets

from clinic import sites
from clinic.api_support import NUL_MESSAGE, contains_nul
from clinic.audit import audit_record, audit_record_reads
from clinic.models import Allergy, AuditEvent, Medication, Patient, ProcedureType
from clinic.selectors import patient_search

DEMOGRAPHIC_FIELDS = [
    "id",
    "mrn",
    "first_name",
    "last_name",
    "date_of_birth",
    "sex",
    "email",
    "phone",
    "preferred_language",
    "email_consent",
]


class PatientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = DEMOGRAPHIC_FIELDS

    def validate_mrn(self, value):
        mrn = value.strip().upper()
        others = Patient.objects.filter(mrn=mrn)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("Another patient already has this MRN.")
        return mrn

    def validate(self, attrs):
        # The model's own rules (date of birth, consent needs an email) apply to the API too.
        try:
            Patient(**{**self._current_values(), **attrs}).clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs

    def _current_values(self):
        if self.instance is None:
            return {}
        return {field: getattr(self.instance, field) for field in DEMOGRAPHIC_FIELDS[1:]}


class MedicationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Medication
        fields = ["id", "agent", "name", "dose", "is_antithrombotic"]


class AllergySerializer(serializers.ModelSerializer):
    class Meta:
        model = Allergy
        fields = ["id", "kind", "substance", "reaction", "severity"]


class PatientClinicalSerializer(PatientSerializer):
    medications = MedicationSerializer(many=True, read_only=True)
    allergies = AllergySerializer(many=True, read_only=True)

    class Meta(PatientSerializer.Meta):
        fields = [*DEMOGRAPHIC_FIELDS, "spinal_history", "medications", "allergies"]
        read_only_fields = ["spinal_history"]


class PatientViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Patients. Clinical fields are included for roles that may read the clinical record."""

    queryset = Patient.objects.all()
    filterset_fields = ["mrn", "date_of_birth"]

    def get_serializer_class(self):
        if self.request.user.has_perm("clinic.view_clinical_record"):
            return PatientClinicalSerializer
        return PatientSerializer

    def get_queryset(self):
        query = self.request.query_params.get("q", "")
        if contains_nul(query):
            raise serializers.ValidationError({"q": [NUL_MESSAGE]})
        patients = patient_search(query=query) if query else Patient.objects.all()
        if self.get_serializer_class() is PatientClinicalSerializer:
            patients = patients.prefetch_related("medications", "allergies")
            if self.action == "list":
                patients = sites.patients_in_scope(self.request.user, patients)
        return patients.order_by("last_name", "first_name", "pk")

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        if self.get_serializer_class() is PatientClinicalSerializer:
            # Each listed patient's clinical record was read: audit them one by one.
            rows = response.data.get("results", []) if response.data else []
            audit_record_reads(
                request=request,
                patients=[Patient(pk=row["id"]) for row in rows],
                detail="clinical record (API list)",
            )
        return response

    def retrieve(self, request, *args, **kwargs):
        if self.get_serializer_class() is PatientClinicalSerializer:
            sites.patient_check(request.user, self.get_object())
        response = super().retrieve(request, *args, **kwargs)
        if self.get_serializer_class() is PatientClinicalSerializer:
            patient = self.get_object()
            audit_record(
                request=request,
                action=AuditEvent.Action.VIEW,
                obj=patient,
                patient=patient,
                detail="clinical record (API)",
            )
        return response

    def perform_create(self, serializer):
        patient = serializer.save()
        audit_record(
            request=self.request, action=AuditEvent.Action.CREATE, obj=patient, patient=patient
        )

    def perform_update(self, serializer):
        patient = serializer.save()
        audit_record(
            request=self.request,
            action=AuditEvent.Action.CHANGE,
            obj=patient,
            patient=patient,
            detail="demographics (API)",
        )


class ProcedureTypeSerializer(serializers.ModelSerializer):
    room_minutes = serializers.IntegerField(read_only=True)

    class Meta:
        model = ProcedureType
        fields = [
            "id",
            "code",
            "name",
            "category",
            "regions",
            "needs_laterality",
            "needs_level",
            "procedure_minutes",
            "setup_minutes",
            "turnover_minutes",
            "recovery_minutes",
            "room_minutes",
            "required_capabilities",
            "bleeding_risk",
            "typical_sedation",
            "active",
        ]


class ProcedureTypeViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The procedure catalogue; managers edit it, everyone on staff reads it."""

    queryset = ProcedureType.objects.order_by("name")
    serializer_class = ProcedureTypeSerializer
    filterset_fields = ["category", "bleeding_risk", "active"]

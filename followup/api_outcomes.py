"""JSON API twins of the outcomes page: the per-episode rows and their aggregates.

Filtered as the page is (followup.filters_outcomes), cut to the user's sites, for
physicians and managers (`followup.view_outcomeepisode`). Listing episodes audits each
patient shown; the aggregates name no patient and are audited as one read with the filter.
"""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response as ApiResponse

from clinic import sites
from clinic.api_support import AuditedReadsMixin
from clinic.audit import audit_record
from clinic.models import AuditEvent
from followup.filters_outcomes import OutcomeFilter
from followup.models import OutcomeEpisode
from followup.outcomes import POINTS, Rate
from followup.selectors_outcomes import outcome_summary


class OutcomeEpisodeSerializer(serializers.ModelSerializer):
    """One treated episode. Relief and ODI/NDI values are exact and unrounded (strings)."""

    class Meta:
        model = OutcomeEpisode
        fields = [
            "appointment",
            "patient",
            "procedure_type",
            "physician",
            "site",
            "diagnosis",
            "treated_on",
            "region",
            "levels",
            "laterality",
            "baseline_nrs",
            "baseline_source",
            "has_followup",
            *(
                f"{kind}_{code}"
                for code, _label, _days in POINTS
                for kind in ("relief", "responder30", "responder50")
            ),
            "last_point",
            "last_relief",
            "immpact_category",
            "responder_30",
            "responder_50",
            "disability_instrument",
            "disability_baseline",
            "disability_last",
            "disability_change",
            "disability_mcid",
            "pgic_last",
            "pgic_improved",
            "durable_days",
            "durable_event",
            "block_peak_relief",
            "block_result",
        ]


class RateSerializer(serializers.Serializer):
    k = serializers.IntegerField(help_text="Episodes meeting the criterion.")
    n = serializers.IntegerField(help_text="Episodes with an answer.")
    rate = serializers.FloatField(allow_null=True, help_text="k / n; null under 5.")
    ci_low = serializers.FloatField(allow_null=True, help_text="95% Wilson interval.")
    ci_high = serializers.FloatField(allow_null=True)


class PointSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    n = serializers.IntegerField()
    responders_30 = RateSerializer()
    responders_50 = RateSerializer()
    median_relief = serializers.FloatField(allow_null=True)


class ChangeSerializer(serializers.Serializer):
    n = serializers.IntegerField()
    mean_improvement = serializers.FloatField(allow_null=True)
    mcid = RateSerializer()


class StepSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    at_risk = serializers.IntegerField()
    events = serializers.IntegerField()
    censored = serializers.IntegerField()
    survival = serializers.FloatField()


class GroupSerializer(serializers.Serializer):
    key = serializers.CharField(allow_null=True)
    label = serializers.CharField()
    suppressed = serializers.BooleanField(help_text="Fewer than 5 patients: no rates.")
    patients = serializers.IntegerField()
    treated = serializers.IntegerField()
    followed = RateSerializer(help_text="Episodes with a follow-up answer (response rate).")
    nurse_baseline = serializers.IntegerField()
    no_baseline = serializers.IntegerField()
    points = PointSerializer(many=True)
    last = PointSerializer(help_text="At each episode's last answer with a relief.")
    odi = ChangeSerializer(help_text="ODI improvement in percent points; MCID Ostelo 2008.")
    ndi = ChangeSerializer(help_text="NDI improvement in raw points; MCID Young 2009.")
    pgic_improved = RateSerializer()
    durability_median_days = serializers.IntegerField(allow_null=True)
    durability = StepSerializer(many=True, help_text="Kaplan-Meier steps of staying >=50%.")
    summary = serializers.CharField()


class SummarySerializer(serializers.Serializer):
    grouping = serializers.CharField()
    groups = GroupSerializer(many=True)
    overall = GroupSerializer()


def _rate(rate: Rate) -> dict:
    low, high = rate.interval or (None, None)
    return {"k": rate.k, "n": rate.n, "rate": rate.value, "ci_low": low, "ci_high": high}


def _point(point) -> dict:
    return {
        "code": point.code,
        "label": point.label,
        "n": point.n,
        "responders_30": _rate(point.r30),
        "responders_50": _rate(point.r50),
        "median_relief": point.median,
    }


def _group(group) -> dict:
    shown = not group.suppressed
    return {
        "key": None if group.key is None else str(group.key),
        "label": group.label,
        "suppressed": group.suppressed,
        "patients": group.patients,
        "treated": group.treated,
        "followed": _rate(group.followed),
        "nurse_baseline": group.nurse_baseline,
        "no_baseline": group.no_baseline,
        "points": [_point(point) for point in group.points] if shown else [],
        "last": _point(group.last),
        "odi": {
            "n": group.odi.n,
            "mean_improvement": group.odi.mean if shown else None,
            "mcid": _rate(group.odi.mcid),
        },
        "ndi": {
            "n": group.ndi.n,
            "mean_improvement": group.ndi.mean if shown else None,
            "mcid": _rate(group.ndi.mcid),
        },
        "pgic_improved": _rate(group.pgic),
        "durability_median_days": group.km_median,
        "durability": [step.__dict__ for step in group.km],
        "summary": group.summary(),
    }


class OutcomeScopeMixin:
    queryset = OutcomeEpisode.objects.order_by("-treated_on", "-appointment")
    site_field = "site"
    filterset_class = OutcomeFilter

    def get_queryset(self):
        rows = super().get_queryset()
        return sites.appointments_in_scope(self.request.user, rows, self.site_field)


@extend_schema_view(
    list=extend_schema(
        summary="List treated episodes with their outcome measures (the outcomes page's rows)"
    ),
    retrieve=extend_schema(summary="One treated episode, by its appointment's id"),
)
class OutcomeEpisodeViewSet(
    OutcomeScopeMixin,
    AuditedReadsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """One row per treated appointment: baseline, relief at each follow-up point, IMMPACT
    category, responders, ODI/NDI change against the MCID, PGIC and durability."""

    serializer_class = OutcomeEpisodeSerializer
    audit_detail = "outcome episodes"


@extend_schema_view(
    list=extend_schema(
        summary="Outcome aggregates per group (responder rates with 95% Wilson intervals, "
        "median relief, ODI/NDI change, Kaplan-Meier durability)",
        responses=SummarySerializer,
    ),
)
class OutcomeSummaryViewSet(OutcomeScopeMixin, viewsets.GenericViewSet):
    """The outcomes page's numbers: filter as for the episodes, `group_by` one of
    procedure_type (default), physician, site, diagnosis, region, laterality."""

    serializer_class = SummarySerializer
    pagination_class = None

    def list(self, request, *args, **kwargs):
        filterset = self.filterset_class(request.GET, queryset=self.get_queryset())
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        summary = outcome_summary(filterset.qs, grouping=filterset.grouping)
        audit_record(
            request=request,
            action=AuditEvent.Action.VIEW,
            detail=f"outcomes (aggregates, API): {request.GET.urlencode() or 'no filter'}"[:255],
        )
        return ApiResponse(
            {
                "grouping": summary.grouping,
                "groups": [_group(group) for group in summary.groups],
                "overall": _group(summary.overall),
            }
        )

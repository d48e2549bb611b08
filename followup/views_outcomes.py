"""The outcomes page (aggregates with charts) and its per-episode list (with CSV).

For physicians and managers (`followup.view_outcomeepisode`), cut to the user's sites.
The page shows no patient; reading it is audited with its filter. The episode list names
patients: each patient shown is audited as read, each export as an export.
"""

from django.shortcuts import render

from clinic import sites
from clinic.audit import audit_record
from clinic.decorators import permission_required
from clinic.models import AuditEvent
from clinic.ui import render_table
from followup.filters_outcomes import OutcomeFilter
from followup.models import OutcomeEpisode
from followup.outcomes import MIN_GROUP
from followup.selectors_outcomes import episodes_for_list, outcome_summary
from followup.tables_outcomes import OutcomeEpisodeTable


def _filtered(request) -> OutcomeFilter:
    episodes = sites.appointments_in_scope(request.user, OutcomeEpisode.objects.all(), "site")
    return OutcomeFilter(request.GET, queryset=episodes)


def chart_data(summary) -> dict:
    """What the charts draw (followup/outcomes.js): the groups with rates to show."""
    shown = [group for group in summary.groups if not group.suppressed]
    return {
        "points": [label for _code, label in summary.points],
        "responders": [
            {
                "label": group.label,
                "values": [
                    None if point.r50.suppressed else round(point.r50.value * 100, 1)
                    for point in group.points
                    if point.code in dict(summary.points)
                ],
            }
            for group in shown
        ],
        "durability": [
            {
                "label": group.label,
                "steps": [[0, 100.0]]
                + [[step.days, round(step.survival * 100, 1)] for step in group.km],
            }
            for group in shown
            if group.km
        ],
    }


@permission_required("followup.view_outcomeepisode")
def outcomes(request):
    filterset = _filtered(request)
    summary = outcome_summary(filterset.qs, grouping=filterset.grouping)
    query = request.GET.copy()
    query.pop("group_by", None)
    audit_record(
        request=request,
        action=AuditEvent.Action.VIEW,
        detail=f"outcomes (aggregates): {request.GET.urlencode() or 'no filter'}"[:255],
    )
    return render(
        request,
        "followup/staff/outcomes.html",
        {
            "filter": filterset,
            "summary": summary,
            "chart_data": chart_data(summary),
            "min_group": MIN_GROUP,
            "episodes_query": request.GET.urlencode(),
            "tab": "outcomes",
        },
    )


@permission_required("followup.view_outcomeepisode")
def outcome_episodes(request):
    filterset = _filtered(request)
    return render_table(
        request,
        table=OutcomeEpisodeTable(episodes_for_list(filterset.qs)),
        filterset=filterset,
        template="followup/staff/list.html",
        export_name="outcome-episodes",
        export_audit="outcome episodes",
        audit_reads="outcome episodes (list)",
        context={
            "title": "Outcomes per treated episode",
            "intro": (
                "One row per procedure done, as the outcomes page counts them. Relief is "
                "shown to one decimal; the CSV has the exact values."
            ),
            "tab": "outcomes",
        },
    )

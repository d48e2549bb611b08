"""The recall worklist: patients due for review or a repeat (followup.recall)."""

from clinic import sites
from clinic.decorators import permission_required
from clinic.ui import render_table
from followup import recall
from followup.filters import RecallFilter
from followup.tables import RecallTable


@permission_required("followup.view_recallrule", "scheduling.view_appointment")
def recall_list(request):
    entries = sites.appointments_in_scope(request.user, recall.recall_worklist())
    filterset = RecallFilter(request.GET, queryset=entries)
    return render_table(
        request,
        table=RecallTable(filterset.qs, request=request),
        filterset=filterset,
        template="followup/staff/recall.html",
        export_name="recall",
        export_audit="recall worklist",
        audit_reads="recall worklist",
    )

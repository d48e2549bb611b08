"""Care plans in the staff pages: managers edit the follow-up of each procedure type (steps,
instruments, timing) and its preparation advice with plain widgets, see who changed what,
and preview what the patient receives. Reading needs view_careplan; editing is the
manager's (change_careplan, change_preparationinstruction)."""

import django_filters
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation

from clinic.audit import audit_record
from clinic.decorators import permission_required
from clinic.models import AuditEvent, Patient
from clinic.ui import FilterForm, render_table
from followup import selectors_plans as selectors
from followup.emails import survey_preview
from followup.forms import SECTION_ORDER, SurveyForm
from followup.forms_plans import CarePlanForm, CarePlanStepFormSet, PreparationFormSet
from followup.models import CarePlan, CarePlanStep, Instrument
from followup.services_plans import PlanRefused, care_plan_save, preparation_save
from followup.tables import CarePlanTable


class CarePlanFilter(django_filters.FilterSet):
    procedure = django_filters.CharFilter(
        label="Procedure", field_name="procedure_type__name", lookup_expr="icontains"
    )
    active = django_filters.BooleanFilter(label="Active")

    class Meta:
        model = CarePlan
        fields = ["procedure", "active"]
        form = FilterForm


@permission_required("followup.view_careplan")
def care_plan_list(request):
    filterset = CarePlanFilter(request.GET, queryset=selectors.care_plans())
    return render_table(
        request,
        table=CarePlanTable(filterset.qs),
        filterset=filterset,
        template="followup/plans/list.html",
        export_name="care-plans",
    )


def _audit_change(request, plan, detail):
    audit_record(request=request, action=AuditEvent.Action.CHANGE, obj=plan, detail=detail)


@permission_required("followup.change_careplan")
def care_plan_edit(request, pk):
    plan = get_object_or_404(selectors.care_plans(), pk=pk)
    data = request.POST if request.method == "POST" else None
    form = CarePlanForm(data, instance=plan, prefix="plan")
    steps = CarePlanStepFormSet(data, instance=plan, prefix="steps")
    if data is not None and form.is_valid() and steps.is_valid():
        try:
            care_plan_save(
                plan=form.save(commit=False),
                steps=steps.save(commit=False),
                deleted=steps.deleted_objects,
                user=request.user,
            )
        except PlanRefused as refusal:
            messages.error(request, refusal.detail)
        else:
            _audit_change(request, plan, "care plan edited")
            messages.success(request, f"Care plan for {plan.procedure_type} saved.")
            return redirect("care_plan_edit", pk=plan.pk)
    return render(
        request,
        "followup/plans/edit.html",
        {"plan": plan, "form": form, "steps": steps, "languages": Patient.Language.choices},
    )


@permission_required("followup.view_careplan")
def care_plan_history(request, pk):
    plan = get_object_or_404(selectors.care_plans(), pk=pk)
    return render(
        request,
        "followup/plans/history.html",
        {"plan": plan, "entries": selectors.care_plan_history(plan)},
    )


def _survey_parts(instruments, language):
    """The survey's parts and questions as the patient sees them, in `language`."""
    wanted = set(instruments)
    if Instrument.DISABILITY in wanted:
        # The region decides per appointment; the preview shows the lumbar (ODI) case.
        wanted |= {Instrument.ODI}
    ordered = [str(i) for i in SECTION_ORDER if i in wanted]
    with translation.override(language):
        form = SurveyForm(instruments=ordered)
        return [
            {
                "title": str(part["section"].title),
                "questions": [str(field.label) for field in part["fields"]],
            }
            for part in form.bound_sections()
        ]


@permission_required("followup.view_careplan")
def care_plan_step_preview(request, pk):
    step = get_object_or_404(CarePlanStep.objects.select_related("plan__procedure_type"), pk=pk)
    language = request.GET.get("language", "da")
    if language not in dict(Patient.Language.choices):
        raise Http404("No such language")
    return render(
        request,
        "followup/plans/preview.html",
        {
            "step": step,
            "plan": step.plan,
            "language": language,
            "languages": Patient.Language.choices,
            "email": survey_preview(step, language=language),
            "parts": _survey_parts(step.instruments, language),
            "disability": Instrument.DISABILITY in step.instruments,
        },
    )


@permission_required("followup.change_preparationinstruction")
def care_plan_preparation(request, pk):
    plan = get_object_or_404(selectors.care_plans(), pk=pk)
    procedure_type = plan.procedure_type
    data = request.POST if request.method == "POST" else None
    rows = PreparationFormSet(
        data,
        instance=procedure_type,
        prefix="prep",
        queryset=selectors.preparation_rows(procedure_type),
    )
    if data is not None and rows.is_valid():
        try:
            preparation_save(
                rows=rows.save(commit=False),
                deleted=rows.deleted_objects,
                procedure_type=procedure_type,
                user=request.user,
            )
        except PlanRefused as refusal:
            messages.error(request, refusal.detail)
        else:
            _audit_change(request, plan, "preparation advice edited")
            messages.success(request, f"Preparation advice for {procedure_type} saved.")
            return redirect("care_plan_preparation", pk=plan.pk)
    return render(
        request,
        "followup/plans/preparation.html",
        {
            "plan": plan,
            "rows": rows,
            "by_language": [
                (label, selectors.preparation_rows(procedure_type).filter(language=code))
                for code, label in Patient.Language.choices
            ],
        },
    )

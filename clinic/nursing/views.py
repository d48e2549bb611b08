"""Pages of the perioperative record, made for a tablet: few taps, nothing lost."""

import datetime
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic import sites as site_scope
from clinic.audit import audit_record
from clinic.decorators import clinical_permission_required, permission_required
from clinic.models import AuditEvent, ProcedureType, Site
from clinic.nursing import discharge_scores, forms, rules, selectors, services, suggestions
from clinic.nursing.filters import (
    AnticoagulantHoldFilter,
    ChecklistItemFilter,
    NoteTemplateFilter,
    ProtocolFilter,
)
from clinic.nursing.guards import HardStopRefused
from clinic.nursing.models import (
    AnticoagulantHold,
    ChecklistAnswer,
    ChecklistItem,
    DischargeAssessment,
    ObservationRound,
    Phase,
    ProcedureNote,
    ProcedureNoteTemplate,
    TimeOutConfirmation,
    antithrombotic_problems,
)
from clinic.nursing.tables import (
    AnticoagulantHoldTable,
    ChecklistItemTable,
    NoteTemplateTable,
    ProtocolTable,
)
from clinic.roles import CLINICIAN_ONLY, clinical_role_allows
from clinic.ui import render_table
from scheduling.models import Appointment, Status
from scheduling.services import TransitionRefused

# Where signing a phase leads; the time-out page holds the two confirmations.
NEXT_PHASE = {
    Phase.PRE_PROCEDURE: Phase.SIGN_IN,
    Phase.SIGN_IN: Phase.TIME_OUT,
    Phase.TIME_OUT: Phase.TIME_OUT,
}
BOARD_REFRESH_SECONDS = 30


def _appointment(pk):
    try:
        return selectors.appointment_for_record(pk)
    except Appointment.DoesNotExist:
        raise Http404("No such appointment.") from None


def _record_url(appointment, anchor=""):
    return reverse("nursing_record", args=[appointment.pk]) + (f"#{anchor}" if anchor else "")


def _audit_view(request, appointment, what):
    audit_record(
        request=request,
        action=AuditEvent.Action.VIEW,
        obj=appointment,
        patient=appointment.patient,
        detail=what,
    )


def _refusal(exc) -> dict:
    """Heading and list of a refused status change, for the alert on the record page."""
    if isinstance(exc, HardStopRefused):
        return {"heading": exc.detail, "items": exc.messages}
    return {"heading": str(exc), "items": []}


# --- Board ---------------------------------------------------------------------------


@permission_required("scheduling.view_appointment")
def board(request):
    sites = list(site_scope.sites_in_scope(request.user, Site.objects.filter(active=True)))
    if not sites:
        return render(request, "nursing/board.html", {"sites": [], "sections": []})
    site = next((s for s in sites if str(s.pk) == request.GET.get("site")), sites[0])
    now = timezone.now()
    context = {
        "sites": sites,
        "site": site,
        "sections": selectors.recovery_board(
            site=site, day=timezone.localtime(now, site.zone).date(), now=now
        ),
        "now": now,
        "refresh_seconds": BOARD_REFRESH_SECONDS,
    }
    template = "nursing/_board.html" if request.htmx else "nursing/board.html"
    return render(request, template, context)


# --- The record ----------------------------------------------------------------------


def _render_record(request, appointment, *, refusal=None, status=200, **extra):
    context = selectors.nursing_record(appointment)
    user = request.user
    override_form = extra.pop("override_form", None)
    if context["override_stops"] and clinical_role_allows(user, "nursing.override_hard_stop"):
        context["override_form"] = override_form or forms.StopOverridesForm(
            stops=context["override_stops"]
        )
    if context["escalation_due"] and clinical_role_allows(user, "nursing.add_escalation"):
        context["escalation_form"] = extra.pop("escalation_form", None) or forms.EscalationForm()
    context.update(refusal=refusal, **extra)
    return render(request, "nursing/record.html", context, status=status)


@permission_required("nursing.view_checklistanswer")
def record(request, pk):
    appointment = _appointment(pk)
    _audit_view(request, appointment, "perioperative record")
    return _render_record(request, appointment)


@require_POST
@permission_required("scheduling.change_appointment")
def check_in(request, pk):
    appointment = _appointment(pk)
    try:
        services.appointment_check_in(actor=request.user, appointment=appointment)
    except TransitionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{appointment.patient.full_name} is checked in.")
    if request.user.has_perm("nursing.view_checklistanswer"):
        return redirect(_record_url(appointment))
    return redirect(f"{reverse('nursing_board')}?site={appointment.site_id}")


@require_POST
@clinical_permission_required("nursing.add_checklistanswer")
def start(request, pk):
    appointment = _appointment(pk)
    # One reason field per overridable failed stop (see guards.hard_stops_before_start).
    stops = [s for s in rules.start_stops(appointment) if s.overridable]
    override_form = forms.StopOverridesForm(request.POST, stops=stops)
    if not override_form.is_valid():
        return _render_record(request, appointment, status=400, override_form=override_form)
    try:
        services.procedure_start(
            actor=request.user,
            appointment=appointment,
            override_reason=request.POST.get("override_reason", ""),
            overrides=override_form.reasons,
        )
    except TransitionRefused as exc:
        return _render_record(
            request, appointment, refusal=_refusal(exc), status=409, override_form=override_form
        )
    messages.success(request, "The procedure has started.")
    return redirect(_record_url(appointment))


@require_POST
@clinical_permission_required("nursing.add_observationround")
def end(request, pk):
    appointment = _appointment(pk)
    try:
        services.procedure_end(actor=request.user, appointment=appointment)
    except TransitionRefused as exc:
        return _render_record(request, appointment, refusal=_refusal(exc), status=409)
    messages.success(request, "The patient is in recovery: observation rounds are due.")
    return redirect(_record_url(appointment))


# --- Checklist -----------------------------------------------------------------------


def _phase(value) -> Phase:
    try:
        return Phase(value)
    except ValueError:
        raise Http404("No such checklist phase.") from None


@clinical_permission_required("nursing.add_checklistanswer")
def checklist(request, pk, phase):
    appointment = _appointment(pk)
    phase = _phase(phase)
    state = rules.checklist_state(appointment)
    rows = state.rows(phase)
    open_items = [item for item, answer in rows if not (answer and answer.is_signed)]
    initial = {}
    for item, answer in rows:
        if answer and not answer.is_signed:
            initial.update(forms.AnswersForm.initial_for(item, answer.value))
    data = request.POST if request.method == "POST" else None
    form = forms.AnswersForm(data, items=open_items, appointment=appointment, initial=initial)
    if data is not None:
        action = data.get("action", "save")
        form.is_valid()
        try:
            saved = services.checklist_save(
                actor=request.user, appointment=appointment, values=form.answers
            )
        except services.NursingRefused as exc:
            form.add_error(None, exc.messages)
            saved = []
        if request.htmx:
            return render(
                request,
                "nursing/_autosave_status.html",
                {"form": form, "saved": saved, "now": timezone.now()},
            )
        if not form.errors:
            if action == "sign":
                count = services.checklist_sign(
                    actor=request.user, appointment=appointment, phase=phase
                )
                hard_stops = rules.hard_stops(appointment)
                if hard_stops:
                    # Loud, not a green count: a failed hard stop is what the team must see.
                    messages.error(
                        request,
                        f"{phase.label} signed, but the procedure cannot start: "
                        + " ".join(hard_stops),
                    )
                else:
                    messages.success(request, f"{phase.label}: {count} answers signed.")
                if phase in NEXT_PHASE:
                    return redirect("nursing_checklist", appointment.pk, NEXT_PHASE[phase])
                return redirect(_record_url(appointment, phase.value))
            messages.success(request, "Saved as a draft (not signed yet).")
            return redirect("nursing_checklist", appointment.pk, phase.value)
        messages.error(request, "Some answers need a correction; the others are kept as drafts.")
    else:
        _audit_view(request, appointment, f"checklist: {phase.label}")
    failing = {s.item.phase for s in state.failed_stops(rules.BEFORE_START)}
    entered = _antithrombotic_entered(rows)
    context = {
        "appointment": appointment,
        "phase": phase,
        "phases": [(p, state.phase_progress(p), p in failing) for p in Phase],
        "form": form,
        "signed_rows": [(i, a) for i, a in rows if a and a.is_signed],
        "state": state,
        "holds": rules.hold_summary(appointment, risk_factors=bool(entered.get("risk_factors"))),
        "problems": antithrombotic_problems(entered, appointment) if entered else [],
        "is_physician": clinical_role_allows(request.user, services.PHYSICIAN_SIGNATURE),
        "physician_form": forms.PhysicianSignatureForm(),
    }
    return render(request, "nursing/checklist.html", context)


def _antithrombotic_entered(rows) -> dict:
    """The antithrombotic answer entered so far (draft or signed), or an empty one."""
    for item, answer in rows:
        if item.kind == ChecklistItem.Kind.ANTITHROMBOTIC and answer is not None:
            return answer.value
    return {}


@clinical_permission_required("nursing.add_checklistanswer")
def hold_text(request, pk):
    """The hold rule of the antithrombotic item as the nurse fills it in (htmx): risk factors
    move the procedure one bleeding-risk category up, and the doses entered so far are
    checked against the hold table."""
    appointment = _appointment(pk)
    name = f"item-{request.GET.get('item', '')}"
    risk_factors = bool(request.GET.get(f"{name}-risk"))
    doses = {}
    for agent in rules.antithrombotics_of(appointment.patient):
        if request.GET.get(f"{name}-{agent}-stopped"):
            continue
        day = request.GET.get(f"{name}-{agent}", "")
        try:
            doses[agent] = datetime.date.fromisoformat(day).isoformat()
        except ValueError:
            continue  # not (yet) a date: the form itself says so
    return render(
        request,
        "nursing/_hold_text.html",
        {
            "holds": rules.hold_summary(appointment, risk_factors=risk_factors),
            "problems": antithrombotic_problems(
                {"doses": doses, "risk_factors": risk_factors}, appointment
            ),
        },
    )


@require_POST
@clinical_permission_required("nursing.add_timeoutconfirmation")
def time_out_confirm(request, pk):
    appointment = _appointment(pk)
    role = request.POST.get("role")
    signer = request.user
    try:
        if role == TimeOutConfirmation.Role.PHYSICIAN and not clinical_role_allows(
            request.user, services.PHYSICIAN_SIGNATURE
        ):
            physician_form = forms.PhysicianSignatureForm(request.POST, request=request)
            if not physician_form.is_valid():
                raise services.NursingRefused(
                    physician_form.non_field_errors()
                    or ["Enter the physician's username and password."],
                    code="physician_signature_invalid",
                )
            signer = physician_form.physician
        if role not in TimeOutConfirmation.Role.values:
            raise services.NursingRefused(
                "Choose who confirms the time-out.", code="time_out_role_missing"
            )
        services.time_out_confirm(actor=signer, appointment=appointment, role=role)
    except services.NursingRefused as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            f"Time-out confirmed by the {role}: {signer.get_full_name() or signer.username}.",
        )
    return redirect("nursing_checklist", appointment.pk, Phase.TIME_OUT.value)


@clinical_permission_required("nursing.change_checklistanswer")
def answer_amend(request, pk):
    answer = get_object_or_404(
        ChecklistAnswer.objects.select_related("item", "appointment__patient"), pk=pk
    )
    appointment = _appointment(answer.appointment_id)
    data = request.POST if request.method == "POST" else None
    form = forms.AmendAnswerForm(
        data,
        items=[answer.item],
        appointment=appointment,
        initial=forms.AnswersForm.initial_for(answer.item, answer.value),
    )
    if data is not None and form.is_valid():
        try:
            services.answer_amend(
                actor=request.user,
                answer=answer,
                value=form.answers[answer.item],
                reason=form.cleaned_data["reason"],
            )
        except (services.NursingRefused, ValidationError) as exc:
            form.add_error(None, getattr(exc, "messages", [str(exc)]))
        else:
            messages.success(request, f"{answer.item.label}: amended.")
            return redirect(_record_url(appointment, answer.item.phase))
    return render(
        request,
        "nursing/amend.html",
        {
            "appointment": appointment,
            "form": form,
            "title": answer.item.label,
            "current": answer.display_value,
            "answer_form": True,
        },
    )


# --- Observation rounds --------------------------------------------------------------


@clinical_permission_required("nursing.add_observationround")
def round_new(request, pk):
    appointment = _appointment(pk)
    previous = appointment.observation_rounds.order_by("-taken_at", "-pk").first()
    initial = {"spo2_scale": previous.spo2_scale if previous else 1, "on_oxygen": False}
    data = request.POST if request.method == "POST" else None
    form = forms.ObservationRoundForm(data, initial=initial)
    if data is not None and form.is_valid():
        values = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            round_ = services.round_record(actor=request.user, appointment=appointment, data=values)
        except (services.NursingRefused, ValidationError) as exc:
            form.add_error(None, exc.messages)
        else:
            if round_.needs_escalation:
                messages.warning(
                    request,
                    f"NEWS2 {round_.news2_total} ({round_.news2_risk} risk): call the physician "
                    "now and record the call below.",
                )
            else:
                messages.success(request, f"Observations saved: NEWS2 {round_.news2_total}.")
            return redirect(_record_url(appointment, "rounds"))
    return render(
        request,
        "nursing/round_form.html",
        {
            "appointment": appointment,
            "form": form,
            "previous": previous,
            "preview": forms.news2_preview(data) if data is not None else None,
        },
    )


@require_POST
@clinical_permission_required("nursing.add_observationround")
def round_preview(request):
    """The NEWS2 of the round form as it is typed (htmx), scored by the same Python as a
    saved round; nothing is stored or audited: no record is read."""
    return render(
        request, "nursing/_news2_preview.html", {"preview": forms.news2_preview(request.POST)}
    )


@require_POST
@clinical_permission_required("nursing.add_escalation")
def escalation_new(request, pk):
    round_ = get_object_or_404(ObservationRound, pk=pk)
    appointment = _appointment(round_.appointment_id)
    form = forms.EscalationForm(request.POST)
    if form.is_valid():
        try:
            services.escalation_record(
                actor=request.user,
                round_=round_,
                physician=form.cleaned_data["physician"],
                called_whom=form.cleaned_data["called_whom"],
                note=form.cleaned_data["note"],
            )
        except services.NursingRefused as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, "The call to the physician is recorded.")
            return redirect(_record_url(appointment, "rounds"))
    return _render_record(request, appointment, escalation_form=form, status=400)


@clinical_permission_required("nursing.change_observationround")
def round_amend(request, pk):
    round_ = get_object_or_404(ObservationRound, pk=pk)
    appointment = _appointment(round_.appointment_id)
    data = request.POST if request.method == "POST" else None
    # Times are typed and shown on the site's clock, as everywhere on the record.
    with timezone.override(appointment.site.zone):
        form = forms.RoundAmendForm(data, round_=round_)
        if data is not None and form.is_valid():
            try:
                services.round_amend_values(
                    actor=request.user,
                    round_=round_,
                    values=form.changes(),
                    reason=form.cleaned_data["reason"],
                )
            except services.NursingRefused as exc:
                form.add_error(None, exc.messages)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, "Observations amended; NEWS2 scored again.")
                return redirect(_record_url(appointment, "rounds"))
        return render(
            request,
            "nursing/round_form.html",
            {
                "appointment": appointment,
                "form": form,
                "amended": round_,
                "preview": forms.news2_preview(data if data is not None else form.initial),
            },
        )


# --- Discharge -----------------------------------------------------------------------


@clinical_permission_required("nursing.add_dischargeassessment")
def discharge(request, pk):
    appointment = _appointment(pk)
    protocol = rules.protocol_for(appointment.procedure_type)
    suggested = suggestions.discharge_suggestions(appointment, protocol.scale)
    data = request.POST if request.method == "POST" else None
    action = data.get("action") if data else None
    assessment_form = forms.AssessmentForm(
        data if action == "assess" else None,
        scale=protocol.scale,
        initial={code: s.value for code, s in suggested.items()},
    )
    discharge_form = forms.DischargeForm(data if action == "discharge" else None)
    refusal = None
    if action == "assess" and assessment_form.is_valid():
        try:
            assessment = services.assessment_record(
                actor=request.user, appointment=appointment, scores=assessment_form.cleaned_data
            )
        except services.NursingRefused as exc:
            assessment_form.add_error(None, exc.messages)
        else:
            if assessment.is_ready:
                messages.success(
                    request,
                    f"{assessment.get_scale_display()} {assessment.total} of 10: ready for "
                    "discharge.",
                )
            else:
                messages.warning(
                    request,
                    f"{assessment.get_scale_display()} {assessment.total} of 10 is below the "
                    f"threshold of {assessment.threshold}: score again later.",
                )
            return redirect("nursing_discharge", appointment.pk)
    if action == "discharge" and discharge_form.is_valid():
        if not clinical_role_allows(request.user, "nursing.add_discharge"):
            raise PermissionDenied(CLINICIAN_ONLY)
        try:
            services.patient_discharge(
                actor=request.user,
                appointment=appointment,
                override_reason=discharge_form.cleaned_data["override_reason"],
            )
        except TransitionRefused as exc:
            refusal = _refusal(exc)
        else:
            messages.success(request, f"{appointment.patient.full_name} is discharged.")
            return redirect(_record_url(appointment, "discharge"))
    if data is None:
        _audit_view(request, appointment, "discharge")
    state = rules.checklist_state(appointment)
    context = {
        "appointment": appointment,
        "protocol": protocol,
        "assessment_form": assessment_form,
        "discharge_form": discharge_form,
        "suggested": suggested,
        "blockers": rules.discharge_blockers(appointment, state)
        if appointment.status == Status.IN_RECOVERY
        else [],
        "latest": appointment.discharge_assessments.order_by("-signed_at", "-pk").first(),
        "refusal": refusal,
        "can_override": clinical_role_allows(request.user, "nursing.override_hard_stop"),
    }
    return render(request, "nursing/discharge.html", context, status=409 if refusal else 200)


@clinical_permission_required("nursing.change_dischargeassessment")
def assessment_amend(request, pk):
    assessment = get_object_or_404(DischargeAssessment, pk=pk)
    appointment = _appointment(assessment.appointment_id)
    scale = discharge_scores.DISCHARGE_SCALES[assessment.scale]
    data = request.POST if request.method == "POST" else None
    form = forms.AssessmentAmendForm(data, scale=scale)
    if data is not None and form.is_valid():
        try:
            services.assessment_amend(
                actor=request.user,
                assessment=assessment,
                item=form.cleaned_data["item"],
                value=form.cleaned_data["value"],
                reason=form.cleaned_data["reason"],
            )
        except services.NursingRefused as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, "Discharge score amended.")
            return redirect(_record_url(appointment, "discharge"))
    return render(
        request,
        "nursing/amend.html",
        {"appointment": appointment, "form": form, "title": str(assessment), "current": ""},
    )


@permission_required("nursing.view_discharge")
def instructions(request, pk):
    appointment = _appointment(pk)
    given = getattr(appointment, "discharge", None)
    protocol = rules.protocol_for(appointment.procedure_type)
    text = (
        given.instructions
        if given
        else protocol.instructions_for(appointment.patient.preferred_language)
    )
    _audit_view(request, appointment, "discharge instructions")
    return render(
        request,
        "nursing/instructions.html",
        {
            "appointment": appointment,
            "text": text,
            "discharge": given,
            "procedure_name": appointment.procedure_type.name_in(
                appointment.patient.preferred_language
            ),
        },
    )


# --- Protocols (managers) ------------------------------------------------------------


@permission_required("nursing.view_procedureprotocol")
def protocol_list(request):
    filterset = ProtocolFilter(
        request.GET, queryset=ProcedureType.objects.select_related("nursing_protocol")
    )
    return render_table(
        request,
        table=ProtocolTable(filterset.qs),
        filterset=filterset,
        template="nursing/protocol_list.html",
        export_name="nursing-protocols",
    )


@permission_required("nursing.change_procedureprotocol", "nursing.add_procedureprotocol")
def protocol_edit(request, pk):
    procedure_type = get_object_or_404(ProcedureType, pk=pk)
    protocol = rules.protocol_for(procedure_type)
    form = forms.ProcedureProtocolForm(request.POST or None, instance=protocol)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Nursing protocol of {procedure_type} saved.")
        return redirect("nursing_protocol_list")
    items = [
        item
        for item in ChecklistItem.objects.filter(active=True).prefetch_related("procedure_types")
        if not item.procedure_types.all() or procedure_type in item.procedure_types.all()
    ]
    return render(
        request,
        "nursing/protocol_form.html",
        {"form": form, "procedure_type": procedure_type, "items": items},
    )


@dataclass(frozen=True)
class KeptList:
    """Protocol rows a manager keeps: their list page (filtered, exported) and the form that
    adds or edits one row."""

    form_class: type
    filterset_class: type
    table_class: type
    template: str
    export_name: str
    list_url: str
    noun: str

    def page(self, request, queryset):
        filterset = self.filterset_class(request.GET, queryset=queryset)
        return render_table(
            request,
            table=self.table_class(filterset.qs),
            filterset=filterset,
            template=self.template,
            export_name=self.export_name,
        )

    def form(self, request, pk=None):
        model = self.form_class._meta.model
        instance = model() if pk is None else get_object_or_404(model, pk=pk)
        form = self.form_class(request.POST or None, instance=instance)
        if request.method == "POST" and form.is_valid():
            saved = form.save()
            messages.success(request, f"Saved the {self.noun} “{saved}”.")
            return redirect(self.list_url)
        context = {"form": form, "noun": self.noun, "back": self.list_url}
        return render(request, "nursing/config_form.html", context)


CHECKLIST_ITEMS = KeptList(
    form_class=forms.ChecklistItemForm,
    filterset_class=ChecklistItemFilter,
    table_class=ChecklistItemTable,
    template="nursing/checklist_item_list.html",
    export_name="checklist-items",
    list_url="nursing_checklist_item_list",
    noun="checklist item",
)
HOLD_TIMES = KeptList(
    form_class=forms.AnticoagulantHoldForm,
    filterset_class=AnticoagulantHoldFilter,
    table_class=AnticoagulantHoldTable,
    template="nursing/hold_list.html",
    export_name="anticoagulant-holds",
    list_url="nursing_hold_list",
    noun="hold time",
)


@permission_required("nursing.view_checklistitem")
def checklist_item_list(request):
    return CHECKLIST_ITEMS.page(request, ChecklistItem.objects.prefetch_related("procedure_types"))


@permission_required("nursing.add_checklistitem")
def checklist_item_create(request):
    return CHECKLIST_ITEMS.form(request)


@permission_required("nursing.change_checklistitem")
def checklist_item_edit(request, pk):
    return CHECKLIST_ITEMS.form(request, pk)


@permission_required("nursing.view_anticoagulanthold")
def hold_list(request):
    return HOLD_TIMES.page(request, AnticoagulantHold.objects.all())


@permission_required("nursing.add_anticoagulanthold")
def hold_create(request):
    return HOLD_TIMES.form(request)


@permission_required("nursing.change_anticoagulanthold")
def hold_edit(request, pk):
    return HOLD_TIMES.form(request, pk)


# --- The physician's procedure note --------------------------------------------------


def _note_context(request, appointment, note):
    user = request.user
    is_physician = clinical_role_allows(user, services.NOTE_WRITE)
    due = appointment.status in services.NOTE_STATUSES
    return {
        "appointment": appointment,
        "note": note,
        "contrast_allergies": rules.contrast_allergies(appointment.patient),
        "can_write": is_physician and due and not (note and note.is_signed),
        "can_amend": is_physician and note is not None and note.is_signed,
        "rows": _note_rows(note) if note else [],
    }


def _note_rows(note):
    """(label, value) of every value of the note, in the order it prints."""
    rows = []
    for field in ProcedureNote.AMENDABLE:
        if field.startswith("rf_") and not note.records_rf:
            continue
        label = ProcedureNote._meta.get_field(field).verbose_name
        rows.append((field, str(label)[:1].upper() + str(label)[1:], note.display(field)))
    return rows


@permission_required("nursing.view_procedurenote")
def note(request, pk):
    appointment = _appointment(pk)
    note = selectors.procedure_note(appointment)
    _audit_view(request, appointment, "procedure note")
    return render(request, "nursing/note.html", _note_context(request, appointment, note))


@permission_required("nursing.view_procedurenote")
def note_print(request, pk):
    appointment = _appointment(pk)
    note = selectors.procedure_note(appointment)
    if note is None:
        raise Http404("No procedure note yet.")
    _audit_view(request, appointment, "procedure note printed")
    return render(request, "nursing/note_print.html", _note_context(request, appointment, note))


@clinical_permission_required(services.NOTE_WRITE)
def note_edit(request, pk):
    appointment = _appointment(pk)
    note = selectors.procedure_note(appointment)
    if note is not None and note.is_signed:
        # A signed note is never edited in place: the amendment keeps old and new.
        messages.info(request, "The note is signed: amend it, giving a reason.")
        return redirect("nursing_note_amend", pk=appointment.pk)
    draft = note or services.note_draft(appointment)
    data = request.POST if request.method == "POST" else None
    form = forms.ProcedureNoteForm(data, note=draft)
    refusal = None
    if data is not None and form.is_valid():
        sign = "sign" in request.POST
        try:
            services.note_save(
                actor=request.user, appointment=appointment, values=form.values(), sign=sign
            )
        except services.NursingRefused as exc:
            refusal = {"heading": exc.detail, "items": exc.messages}
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Procedure note signed." if sign else "Draft saved.")
            return redirect("nursing_note", pk=appointment.pk)
    if data is None:
        _audit_view(request, appointment, "procedure note (edit)")
    context = _note_context(request, appointment, note)
    context.update(form=form, refusal=refusal, amend=False, draft=draft)
    return render(request, "nursing/note_form.html", context, status=409 if refusal else 200)


@clinical_permission_required(services.NOTE_AMEND)
def note_amend(request, pk):
    appointment = _appointment(pk)
    note = selectors.procedure_note(appointment)
    if note is None or not note.is_signed:
        messages.info(request, "The note is not signed yet: write it on the note page.")
        return redirect("nursing_note", pk=appointment.pk)
    data = request.POST if request.method == "POST" else None
    form = forms.ProcedureNoteForm(data, note=note, amend=True)
    refusal = None
    if data is not None and form.is_valid():
        try:
            services.note_amend(
                actor=request.user,
                note=note,
                values=form.values(),
                reason=form.cleaned_data["reason"],
            )
        except services.NursingRefused as exc:
            refusal = {"heading": exc.detail, "items": exc.messages}
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Procedure note amended.")
            return redirect("nursing_note", pk=appointment.pk)
    if data is None:
        _audit_view(request, appointment, "procedure note (amend)")
    context = _note_context(request, appointment, note)
    context.update(form=form, refusal=refusal, amend=True, draft=note)
    return render(request, "nursing/note_form.html", context, status=409 if refusal else 200)


def _form_errors(form, exc: ValidationError):
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@permission_required("nursing.view_procedurenotetemplate")
def note_template_list(request):
    filterset = NoteTemplateFilter(
        request.GET,
        queryset=ProcedureNoteTemplate.objects.select_related("procedure_type"),
    )
    return render_table(
        request,
        table=NoteTemplateTable(filterset.qs),
        filterset=filterset,
        template="nursing/note_template_list.html",
        export_name="procedure-note-templates",
    )


@permission_required("nursing.change_procedurenotetemplate", "nursing.add_procedurenotetemplate")
def note_template_edit(request, pk):
    procedure_type = get_object_or_404(ProcedureType, pk=pk)
    template = rules.note_template_for(procedure_type)
    form = forms.ProcedureNoteTemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Note template of {procedure_type} saved.")
        return redirect("nursing_note_template_list")
    back = "nursing_note_template_list"
    context = {"form": form, "noun": f"note template of {procedure_type}", "back": back}
    return render(request, "nursing/config_form.html", context)

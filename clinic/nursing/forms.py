"""Forms of the perioperative record: large radio buttons for gloved hands."""

import datetime

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.html import escape

from clinic.nursing import discharge_scores, news2, rules
from clinic.nursing.models import (
    INJECTATE_KEYS,
    SEDATION_KEYS,
    AnticoagulantHold,
    ChecklistItem,
    Complication,
    ObservationRound,
    ProcedureNote,
    ProcedureNoteTemplate,
    ProcedureProtocol,
)
from clinic.nursing.services import ROUND_AMENDABLE, note_rows
from clinic.ui import StyledFormMixin
from scheduling.models import Laterality

Kind = ChecklistItem.Kind
YES_NO_LABELS = {"yes": "Yes", "no": "No", "na": "n.a."}


def physicians():
    """Users who may sign a time-out as the physician, through their role or directly."""
    codename = "sign_time_out_as_physician"
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__permissions__codename=codename) | Q(user_permissions__codename=codename))
        .distinct()
        .order_by("last_name", "first_name")
    )


class AnswersForm(forms.Form):
    """Answers to some checklist items; unanswered items are simply left out.

    `answers` (after is_valid) maps each answered item to its value in stored form.
    """

    def __init__(self, *args, items, appointment, **kwargs):
        super().__init__(*args, **kwargs)
        self.items = items
        self.appointment = appointment
        self.agents = rules.antithrombotics_of(appointment.patient)
        self.entries = []
        for item in items:
            names = self._add_fields(item)
            self.entries.append((item, [self[name] for name in names]))

    def _add_fields(self, item) -> list[str]:
        name = f"item-{item.code}"
        allowed = item.allowed_values()
        if allowed is not None:
            labels = {**YES_NO_LABELS} if item.kind != Kind.CHOICE else {}
            self.fields[name] = forms.ChoiceField(
                label=item.label,
                choices=[(v, labels.get(v, v)) for v in allowed],
                widget=forms.RadioSelect,
                required=False,
                help_text=item.help_text,
            )
            return [name]
        if item.kind in (Kind.NUMBER, Kind.TEXT):
            attrs = {"class": "form-control form-control-lg", "autocomplete": "off"}
            if item.kind == Kind.NUMBER:
                attrs["inputmode"] = "decimal"
            self.fields[name] = forms.CharField(
                label=f"{item.label}{f' ({item.unit})' if item.unit else ''}",
                required=False,
                max_length=rules.TEXT_MAX,
                help_text=item.help_text,
                widget=forms.TextInput(attrs=attrs),
            )
            return [name]
        names = []
        for agent, taken in self.agents.items():
            self.fields[f"{name}-{agent}"] = forms.DateField(
                label=f"{taken}: last dose taken on",
                required=False,
                widget=forms.DateInput(
                    attrs={"type": "date", "class": "form-control form-control-lg"},
                    format="%Y-%m-%d",
                ),
                error_messages={"invalid": "Enter a date such as 2026-03-14."},
            )
            self.fields[f"{name}-{agent}-stopped"] = forms.BooleanField(
                label="Not taking it", required=False
            )
            names += [f"{name}-{agent}", f"{name}-{agent}-stopped"]
        if not self.agents:
            self.fields[f"{name}-none"] = forms.BooleanField(
                label="Asked: takes no anticoagulant or antiplatelet medicine", required=False
            )
            names.append(f"{name}-none")
        self.fields[f"{name}-risk"] = forms.BooleanField(
            label="Bleeding risk factors (moves the procedure one risk category up)",
            required=False,
        )
        return [*names, f"{name}-risk"]

    def _raw(self, item):
        """The entered answer, or None when the item was left unanswered."""
        name = f"item-{item.code}"
        data = self.cleaned_data
        if item.kind != Kind.ANTITHROMBOTIC:
            value = data.get(name)
            return value if value not in (None, "") else None
        doses = {}
        for agent in self.agents:
            if data.get(f"{name}-{agent}-stopped"):
                doses[agent] = "stopped"
            elif data.get(f"{name}-{agent}"):
                doses[agent] = data[f"{name}-{agent}"].isoformat()
        if not doses and not data.get(f"{name}-none"):
            return None
        return {"doses": doses, "risk_factors": bool(data.get(f"{name}-risk"))}

    def clean(self):
        self.answers = {}
        for item in self.items:
            raw = self._raw(item)
            if raw is None:
                continue
            try:
                self.answers[item] = rules.validate_answer(item, raw, self.appointment)
            except ValidationError as exc:
                field = f"item-{item.code}"
                if field not in self.fields:
                    field = next(name for name in self.fields if name.startswith(field))
                self.add_error(field, exc)
        return self.cleaned_data

    @classmethod
    def initial_for(cls, item, value) -> dict:
        """Form initial data showing a stored answer."""
        name = f"item-{item.code}"
        if item.kind != Kind.ANTITHROMBOTIC:
            return {name: value}
        initial = {f"{name}-risk": value.get("risk_factors", False)}
        doses = value.get("doses", {})
        if not doses:
            initial[f"{name}-none"] = True
        for agent, day in doses.items():
            if day == "stopped":
                initial[f"{name}-{agent}-stopped"] = True
            else:
                initial[f"{name}-{agent}"] = day
        return initial


class AmendAnswerForm(AnswersForm):
    reason = forms.CharField(
        label="Reason for the amendment",
        max_length=500,
        widget=forms.TextInput(attrs={"class": "form-control form-control-lg"}),
    )

    def clean(self):
        super().clean()
        if not self.errors and not self.answers:
            raise ValidationError("Enter the corrected answer.")
        return self.cleaned_data


class PhysicianSignatureForm(forms.Form):
    """A physician confirms the time-out on the nurse's tablet with their own login."""

    username = forms.CharField(
        label="Physician's username",
        widget=forms.TextInput(
            attrs={
                "class": "form-control form-control-lg",
                "autocomplete": "off",
                "autocapitalize": "none",
            }
        ),
    )
    password = forms.CharField(
        label="Physician's password",
        widget=forms.PasswordInput(
            attrs={"class": "form-control form-control-lg", "autocomplete": "off"}
        ),
    )

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean(self):
        from django.contrib.auth import authenticate

        data = super().clean()
        if self.errors:
            return data
        user = authenticate(self.request, username=data["username"], password=data["password"])
        if user is None:
            raise ValidationError("Username or password is wrong; nothing was signed.")
        self.physician = user
        return data


class StopOverridesForm(StyledFormMixin, forms.Form):
    """A physician's reason for each failed hard stop the protocol lets be overridden: one
    field per stop (`override-<stop>`), so one reason never waives another."""

    PREFIX = "override-"

    def __init__(self, *args, stops=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.stops = list(stops)
        for stop in self.stops:
            self.fields[self.PREFIX + stop.stop] = forms.CharField(
                label=f"Reason to override: {stop.item.label if stop.item else stop.stop}",
                # form_fields.html shows help text unescaped; the message quotes protocol text.
                help_text=escape(stop.message),
                max_length=500,
                required=False,
                widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
            )

    @property
    def reasons(self) -> dict[str, str]:
        """Stop -> reason, for the stops given one."""
        return {
            stop.stop: reason
            for stop in self.stops
            if (reason := self.cleaned_data.get(self.PREFIX + stop.stop, "").strip())
        }


class ObservationRoundForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = ObservationRound
        fields = ObservationRound.ENTERED_FIELDS
        radios = [
            "spo2_scale",
            "consciousness",
            "motor",
            "sensory",
            "puncture_site",
            "headache",
            "nausea",
        ]
        widgets = {
            **{name: forms.RadioSelect for name in radios},
            "on_oxygen": forms.RadioSelect(choices=[(False, "Air"), (True, "Oxygen")]),
            "note": forms.TextInput,
        }
        labels = {"on_oxygen": "Air or oxygen"}
        help_texts = {
            "spo2_scale": "Scale 2 only when a physician prescribed a target of 88-92%.",
        }

    RADIOS = ["on_oxygen", *Meta.radios]
    NUMBERS = [
        "respiration_rate",
        "spo2",
        "systolic_bp",
        "diastolic_bp",
        "pulse",
        "temperature",
        "pain_nrs",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.NUMBERS:
            attrs = self.fields[name].widget.attrs
            # The browser's own range check would hide the clinical message; the server
            # explains what is possible instead.
            attrs.pop("min", None)
            attrs.pop("max", None)
            attrs["step"] = "any"
            attrs["inputmode"] = "decimal" if name == "temperature" else "numeric"
            attrs["class"] = "form-control form-control-lg"

    def number_fields(self):
        return [self[name] for name in self.NUMBERS]

    def radio_fields(self):
        return [self[name] for name in self.RADIOS]


# The entries NEWS2 scores, with the short names the preview shows its parameters by.
NEWS2_FIELDS = (
    "respiration_rate",
    "spo2",
    "on_oxygen",
    "spo2_scale",
    "systolic_bp",
    "pulse",
    "consciousness",
    "temperature",
)
NEWS2_PARAMETERS = {
    "respiration_rate": "Respiration",
    "spo2": "SpO₂",
    "air_or_oxygen": "Air/O₂",
    "systolic_bp": "Systolic BP",
    "pulse": "Pulse",
    "consciousness": "ACVPU",
    "temperature": "Temperature",
}


def news2_preview(data) -> dict:
    """The NEWS2 of a round still being typed: the form's own checks, then
    clinic.nursing.news2 (RCP 2017, chart 1) as for a saved round, so Python stays the one
    scorer. `result` is None until every scored entry is there and possible; `missing` and
    `invalid` name what stops it (labels as on the form)."""
    form = ObservationRoundForm(data)
    form.is_valid()
    cleaned = getattr(form, "cleaned_data", {})
    missing, invalid = [], []
    for name in NEWS2_FIELDS:
        if cleaned.get(name) is not None:
            continue
        label = ObservationRound.LABELS.get(name, (str(form[name].label),))[0]
        label = label[:1].upper() + label[1:]
        (invalid if str(data.get(name, "")).strip() else missing).append(label)
    result = None
    if not missing and not invalid:
        result = news2.news2(news2.Observations(**{name: cleaned[name] for name in NEWS2_FIELDS}))
    return {
        "result": result,
        "parameters": [
            (label, result.parameter_scores[key]) for key, label in NEWS2_PARAMETERS.items()
        ]
        if result
        else [],
        "missing": missing,
        "invalid": invalid,
    }


class EscalationForm(StyledFormMixin, forms.Form):
    physician = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, label="Physician called"
    )
    called_whom = forms.CharField(label="Or name who was called", max_length=120, required=False)
    note = forms.CharField(label="What was agreed", max_length=500, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["physician"].queryset = physicians()
        self.fields["physician"].label_from_instance = lambda u: u.get_full_name() or u.username

    def clean(self):
        data = super().clean()
        if not data.get("physician") and not (data.get("called_whom") or "").strip():
            raise ValidationError("Choose the physician you called, or write their name.")
        return data


class RoundAmendForm(ObservationRoundForm):
    """Amending a signed round on the round form itself (same widgets, labels and units),
    filled with the signed values; the time taken is read and shown on the site's clock (the
    view activates the site's zone) and a reason is required."""

    taken_at = forms.DateTimeField(
        label="Time taken",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        error_messages={"invalid": "Enter the date and time the observations were taken."},
    )
    reason = forms.CharField(label="Reason for the amendment", max_length=500)

    class Meta(ObservationRoundForm.Meta):
        fields = (*ObservationRound.ENTERED_FIELDS, "taken_at")

    def __init__(self, *args, round_: ObservationRound, **kwargs):
        initial = {name: getattr(round_, name) for name in self._meta.fields}
        super().__init__(*args, initial=initial, **kwargs)
        self.round = round_
        self.fields["taken_at"].widget.attrs["class"] = "form-control form-control-lg"
        self.fields["reason"].widget.attrs["class"] = "form-control form-control-lg"

    def clean_taken_at(self):
        value = self.cleaned_data["taken_at"]
        try:
            value.astimezone(datetime.UTC)  # year 1 or 9999 on the site's clock overflows
        except OverflowError:
            raise ValidationError("Enter a real time, on or after the procedure day.") from None
        return value

    def changes(self) -> dict:
        """The values that differ from the signed round (after is_valid)."""
        changed = {}
        for name in ROUND_AMENDABLE:
            new, old = self.cleaned_data.get(name), getattr(self.round, name)
            # The form shows whole minutes: an untouched time is not a change.
            if (
                name == "taken_at"
                and new is not None
                and new.replace(second=0, microsecond=0) == old.replace(second=0, microsecond=0)
            ):
                continue
            if new != old:
                changed[name] = new
        return changed


class AssessmentForm(forms.Form):
    """The discharge scale's five items, each 2, 1 or 0."""

    def __init__(self, *args, scale: discharge_scores.DischargeScale, **kwargs):
        super().__init__(*args, **kwargs)
        self.scale = scale
        for item in scale.items:
            self.fields[item.code] = forms.TypedChoiceField(
                label=item.title,
                choices=[(o.value, f"{o.value} · {o.label}") for o in item.options],
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": f"Score {item.title.lower()}."},
            )


class AssessmentAmendForm(StyledFormMixin, forms.Form):
    item = forms.ChoiceField(label="Item to correct")
    value = forms.TypedChoiceField(
        label="Corrected score", choices=[(2, "2"), (1, "1"), (0, "0")], coerce=int
    )
    reason = forms.CharField(label="Reason for the amendment", max_length=500)

    def __init__(self, *args, scale: discharge_scores.DischargeScale, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = [(i.code, i.title) for i in scale.items]


class DischargeForm(StyledFormMixin, forms.Form):
    instructions_given = forms.BooleanField(
        label="Discharge instructions given and explained to the patient",
        error_messages={"required": "Give and explain the instructions before discharge."},
    )
    override_reason = forms.CharField(
        label="Physician's reason to discharge despite the criteria",
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


# --- Protocols (managers) ------------------------------------------------------------


class LinesField(forms.CharField):
    """A list of strings, one per line."""

    widget = forms.Textarea(attrs={"rows": 4})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        return [line.strip() for line in (value or "").splitlines() if line.strip()]


class ChecklistItemForm(StyledFormMixin, forms.ModelForm):
    choices = LinesField(required=False, help_text="For a choice: one option per line.")
    fail_values = LinesField(
        required=False,
        label="Answers that fail the hard stop",
        help_text="One per line: yes, no or na, or a choice's option as written above.",
    )

    class Meta:
        model = ChecklistItem
        fields = [
            "label",
            "code",
            "phase",
            "kind",
            "procedure_types",
            "applies_when",
            "required",
            "hard_stop",
            "overridable",
            "fail_values",
            "unit",
            "min_value",
            "max_value",
            "choices",
            "help_text",
            "order",
            "active",
        ]
        widgets = {"procedure_types": forms.CheckboxSelectMultiple}


class AnticoagulantHoldForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = AnticoagulantHold
        fields = ["agent", "bleeding_risk", "hold_days", "restart_days", "note", "source"]


class ProcedureProtocolForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = ProcedureProtocol
        fields = [
            "observation_interval_minutes",
            "observation_count",
            "discharge_scale",
            "discharge_threshold",
            "instructions_en",
            "instructions_da",
        ]
        widgets = {
            "instructions_en": forms.Textarea(attrs={"rows": 8}),
            "instructions_da": forms.Textarea(attrs={"rows": 8}),
        }


class ProcedureNoteTemplateForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = ProcedureNoteTemplate
        fields = [
            "approach",
            "imaging_modality",
            "contrast_agent",
            "injectates",
            "needle",
            "records_rf",
            "rf_temperature_c",
            "rf_seconds",
            "findings",
            "plan",
        ]
        widgets = {
            "findings": forms.Textarea(attrs={"rows": 4}),
            "plan": forms.Textarea(attrs={"rows": 4}),
            "injectates": forms.Textarea(attrs={"rows": 4}),
        }

    def clean_injectates(self):
        return note_rows(self.cleaned_data["injectates"], INJECTATE_KEYS, "injectates")


# The note's single values, as the form groups them.
NOTE_SCALARS = [
    "levels",
    "laterality",
    "approach",
    "imaging_modality",
    "fluoroscopy_seconds",
    "dap_mgy_cm2",
    "contrast_agent",
    "contrast_ml",
    "needle",
    "rf_temperature_c",
    "rf_seconds",
    "rf_lesions",
    "complication_note",
    "findings",
    "plan",
]
RF_FIELDS = ["rf_temperature_c", "rf_seconds", "rf_lesions"]
INJECTATE_ROWS = 4
SEDATION_ROWS = 3


class ProcedureNoteForm(StyledFormMixin, forms.Form):
    """The physician's note: single values, injectate and sedation rows, complications.
    With `amend`, a reason too. The services validate the values again."""

    def __init__(self, *args, note, amend=False, **kwargs):
        self.note = note
        initial = {name: getattr(note, name) for name in NOTE_SCALARS}
        initial["complications"] = list(note.complications)
        rows = list(note.injectates)
        for i in range(max(INJECTATE_ROWS, len(rows) + 1)):
            for key in INJECTATE_KEYS:
                initial[f"injectate_{i}_{key}"] = rows[i].get(key, "") if i < len(rows) else ""
        self.injectate_count = max(INJECTATE_ROWS, len(rows) + 1)
        sedation = list(note.sedation)
        self.sedation_count = max(SEDATION_ROWS, len(sedation) + 1)
        for i in range(self.sedation_count):
            for key in SEDATION_KEYS:
                initial[f"sedation_{i}_{key}"] = (
                    sedation[i].get(key, "") if i < len(sedation) else ""
                )
        kwargs.setdefault("initial", initial)
        self.base_fields = {}
        super().__init__(*args, **kwargs)
        model_fields = forms.models.fields_for_model(ProcedureNote, fields=NOTE_SCALARS)
        for name in NOTE_SCALARS:
            if name in RF_FIELDS and not note.records_rf:
                continue
            field = model_fields[name]
            field.required = False
            self.fields[name] = field
        self.fields["laterality"].widget = forms.Select(choices=Laterality.choices)
        self.fields["levels"].widget.attrs["placeholder"] = "e.g. L4-L5, L5-S1"
        for name in ("findings", "plan"):
            self.fields[name].widget = forms.Textarea(attrs={"rows": 3})
        self.fields["complications"] = forms.MultipleChoiceField(
            choices=[
                (c.code, c.label)
                for c in Complication.objects.filter(
                    Q(active=True) | Q(code__in=note.complications)
                )
            ],
            required=False,
            widget=forms.CheckboxSelectMultiple,
            label="Complications (none ticked: none)",
        )
        labels = {
            "drug": "Drug",
            "dose": "Dose",
            "volume": "Volume",
            "concentration": "Concentration",
        }
        for i in range(self.injectate_count):
            for key in INJECTATE_KEYS:
                self.fields[f"injectate_{i}_{key}"] = forms.CharField(
                    required=False, max_length=60, label=f"Injectate {i + 1}: {labels[key]}"
                )
        for i in range(self.sedation_count):
            for key in SEDATION_KEYS:
                self.fields[f"sedation_{i}_{key}"] = forms.CharField(
                    required=False, max_length=60, label=f"Sedation {i + 1}: {labels[key]}"
                )
        if amend:
            self.fields["reason"] = forms.CharField(
                label="Reason for the amendment", widget=forms.Textarea(attrs={"rows": 2})
            )
        # The mixin styled the (no) fields there were when it ran; style those added since.
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")

    def field_rows(self, prefix, count, keys):
        return [[self[f"{prefix}_{i}_{key}"] for key in keys] for i in range(count)]

    def injectate_rows(self):
        return self.field_rows("injectate", self.injectate_count, INJECTATE_KEYS)

    def sedation_rows(self):
        return self.field_rows("sedation", self.sedation_count, SEDATION_KEYS)

    def scalar(self, *names):
        return [self[name] for name in names if name in self.fields]

    def values(self) -> dict:
        """The values for clinic.nursing.services (note_save, note_amend)."""
        data = self.cleaned_data
        values = {name: data[name] for name in NOTE_SCALARS if name in self.fields}
        values["complications"] = list(data["complications"])
        values["injectates"] = [
            {key: data[f"injectate_{i}_{key}"] for key in INJECTATE_KEYS}
            for i in range(self.injectate_count)
        ]
        values["sedation"] = [
            {key: data[f"sedation_{i}_{key}"] for key in SEDATION_KEYS}
            for i in range(self.sedation_count)
        ]
        return values

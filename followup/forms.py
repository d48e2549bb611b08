"""Forms of the patient pages (survey, reschedule request) and the staff worklists."""

from dataclasses import dataclass, field

from django import forms
from django.conf import settings
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _

from clinic.ui import DateInput, StyledFormMixin
from followup.models import Instrument, InstrumentWording, WorklistAction, resolve_instruments
from followup.scoring import (
    NDI_SECTIONS,
    ODI_SECTIONS,
    PGIC_CHOICES,
    RED_FLAGS,
)

# Pain first, the patient's own judgement next, red flags last so none is skipped in a hurry.
SECTION_ORDER = (
    Instrument.NRS,
    Instrument.DIARY,
    Instrument.RELIEF,
    Instrument.PGIC,
    Instrument.ODI,
    Instrument.NDI,
    Instrument.RED_FLAGS,
)
DISABILITY_SECTIONS = {Instrument.ODI: ODI_SECTIONS, Instrument.NDI: NDI_SECTIONS}
REQUIRED = _("Please choose an answer.")


def max_missing(instrument: str) -> int:
    """How many sections of ODI or NDI may be unanswered and still be scored (a setting)."""
    if instrument == Instrument.NDI:
        return settings.FOLLOWUP_NDI_MAX_MISSING
    return settings.FOLLOWUP_ODI_MAX_MISSING


def survey_instruments(invitation) -> list[str]:
    """The invitation's instruments in survey order, "disability" resolved to ODI or NDI."""
    wanted = set(resolve_instruments(invitation.instruments, invitation.appointment))
    return [instrument for instrument in SECTION_ORDER if instrument in wanted]


def instrument_wording(*, instruments, language) -> dict:
    """Licensed ODI/NDI wording loaded at deployment: {(instrument, section): row}."""
    licensed = [i for i in instruments if i in DISABILITY_SECTIONS]
    if not licensed:
        return {}
    rows = InstrumentWording.objects.filter(instrument__in=licensed, language=language)
    return {(row.instrument, row.section): row for row in rows}


def _radio(label, choices, *, layout, required=True, help_text=""):
    choice_field = forms.TypedChoiceField(
        label=label,
        choices=choices,
        coerce=int if layout != "yesno" else str,
        empty_value=None,
        required=required,
        widget=forms.RadioSelect,
        help_text=help_text,
        error_messages={"required": REQUIRED, "invalid_choice": REQUIRED},
    )
    # How the template lays the answers out: a row of numbers, a list, or yes/no.
    choice_field.layout = layout
    return choice_field


def _nrs_choices():
    return [(score, str(score)) for score in range(11)]


def _generic_scale():
    """Used where the licensed ODI/NDI wording is not loaded."""
    return [
        (0, gettext("0 – no problem at all")),
        (1, gettext("1 – a slight problem")),
        (2, gettext("2 – a moderate problem")),
        (3, gettext("3 – a fairly severe problem")),
        (4, gettext("4 – a very severe problem")),
        (5, gettext("5 – the worst possible")),
    ]


def _diary_label(minutes: int) -> str:
    if minutes < 60:
        return ngettext(
            "Pain %(count)d minute after the injection",
            "Pain %(count)d minutes after the injection",
            minutes,
        ) % {"count": minutes}
    hours = minutes // 60
    return ngettext(
        "Pain %(count)d hour after the injection",
        "Pain %(count)d hours after the injection",
        hours,
    ) % {"count": hours}


@dataclass
class SurveySection:
    key: str
    title: str
    intro: str = ""
    names: list[str] = field(default_factory=list)
    error: str = ""


class SurveyForm(forms.Form):
    """The questions of one invitation; `answers()` gives `response_record`'s shape.

    Build it with the patient's language active: labels are translated when built.
    """

    def __init__(self, *args, instruments, wording=None, red_flags=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.wording = wording or {}
        # The region's questions (followup.red_flags.red_flag_questions); without them
        # the screen asked before regions, so older callers keep working.
        self.red_flags = red_flags
        self.sections: list[SurveySection] = []
        for instrument in instruments:
            getattr(self, f"_add_{instrument}")()

    def _section(self, key, title, intro="") -> SurveySection:
        section = SurveySection(key=key, title=title, intro=intro)
        self.sections.append(section)
        return section

    def _add(self, section, name, form_field):
        self.fields[name] = form_field
        section.names.append(name)

    def _add_nrs(self):
        section = self._section(
            "nrs",
            gettext("Your pain"),
            gettext("0 means no pain and 10 means the worst pain you can imagine."),
        )
        for name, label in (
            ("nrs_current", gettext("How bad is your pain right now?")),
            ("nrs_average", gettext("How bad has your pain been on average in the last week?")),
            ("nrs_worst", gettext("How bad was your worst pain in the last week?")),
        ):
            self._add(section, name, _radio(label, _nrs_choices(), layout="scale"))

    def _add_diary(self):
        section = self._section(
            "diary",
            gettext("Pain diary"),
            gettext(
                "Write down your pain at each time after the injection. 0 means no pain and "
                "10 the worst pain you can imagine. Leave a time empty if you missed it."
            ),
        )
        for minutes in settings.FOLLOWUP_DIARY_OFFSETS_MINUTES:
            self._add(
                section,
                f"diary__{minutes}",
                _radio(_diary_label(minutes), _nrs_choices(), layout="scale", required=False),
            )

    def _add_relief(self):
        section = self._section("relief", gettext("Pain relief"))
        choices = [(percent, f"{percent}%") for percent in range(0, 101, 10)]
        label = gettext("How much of your usual pain has the treatment relieved?")
        hint = gettext("0% means no relief and 100% means the pain is completely gone.")
        self._add(section, "relief", _radio(label, choices, layout="scale", help_text=hint))

    def _add_pgic(self):
        section = self._section("pgic", gettext("Change since the treatment"))
        choices = [(value, gettext(label)) for value, label in PGIC_CHOICES]
        label = gettext("Since the treatment, how would you describe the change in your condition?")
        self._add(section, "pgic", _radio(label, choices, layout="list"))

    def _add_disability(self, instrument, title):
        total = len(DISABILITY_SECTIONS[instrument])
        needed = total - max_missing(instrument)
        section = self._section(
            instrument,
            title,
            gettext(
                "For each part, choose the answer that best describes you today. "
                "Skip a part only if it does not apply to you."
            )
            + " "
            + ngettext(
                "Your score needs answers to at least %(needed)d of the %(total)d parts.",
                "Your score needs answers to at least %(needed)d of the %(total)d parts.",
                needed,
            )
            % {"needed": needed, "total": total},
        )
        for section_id, default_title in DISABILITY_SECTIONS[instrument]:
            row = self.wording.get((instrument, section_id))
            if row is not None:
                label = row.title
                choices = list(enumerate(row.options))
            else:
                label = gettext(default_title)
                choices = _generic_scale()
            name = f"{instrument}__{section_id}"
            question = _radio(label, choices, layout="list", required=False)
            # Not "optional": skipping more than a part loses the score (see score_gaps).
            question.in_score = True
            self._add(section, name, question)

    def _add_odi(self):
        self._add_disability(Instrument.ODI, gettext("Your back and everyday life"))

    def _add_ndi(self):
        self._add_disability(Instrument.NDI, gettext("Your neck and everyday life"))

    def _add_red_flags(self):
        section = self._section(
            "red_flags",
            gettext("Warning signs"),
            gettext("Since the treatment, have you had any of the following?"),
        )
        yes_no = [("yes", gettext("Yes")), ("no", gettext("No"))]
        for code, label in self.red_flag_items():
            self._add(section, f"red_flags__{code}", _radio(label, yes_no, layout="yesno"))

    def red_flag_items(self) -> list[tuple[str, str]]:
        """(code, wording in the active language) of the red-flag questions asked."""
        if self.red_flags is None:
            return [(code, gettext(label)) for code, label in RED_FLAGS]
        language = (get_language() or "en")[:2]
        return [(row.code, row.text(language)) for row in self.red_flags]

    @property
    def question_count(self) -> int:
        return len(self.fields)

    def answered_count(self) -> int:
        """Questions with an answer in the bound data or the saved draft."""
        values = self.data if self.is_bound else self.initial
        return sum(1 for name in self.fields if values.get(name) not in (None, ""))

    def bound_sections(self):
        """Sections with their bound fields, for the template."""
        total = len(self.sections)
        return [
            {
                "section": section,
                "number": number,
                "total": total,
                "fields": [self[name] for name in section.names],
            }
            for number, section in enumerate(self.sections, start=1)
        ]

    def draft(self) -> dict:
        """The answers given so far, to keep on the invitation.

        Known fields and offered answers only: anything else cannot be shown ticked again,
        and a tampered value (a NUL byte, say) must not reach the JSON column.
        """
        return {
            name: str(self.data[name])
            for name in self.fields
            if self.data.get(name) not in (None, "")
            and self.fields[name].valid_value(str(self.data[name]))
        }

    def score_gaps(self) -> list[dict]:
        """The disability parts (ODI, NDI) answered too sparsely to be scored, for asking
        the patient again before sending: scoring allows FOLLOWUP_ODI/NDI_MAX_MISSING
        unanswered sections (followup.scoring), no more. Call after is_valid()."""
        gaps = []
        for section in self.sections:
            if section.key not in DISABILITY_SECTIONS:
                continue
            answered = sum(1 for name in section.names if self.cleaned_data.get(name) is not None)
            total = len(section.names)
            needed = total - max_missing(section.key)
            if answered < needed:
                gaps.append(
                    {
                        "key": section.key,
                        "title": section.title,
                        "answered": answered,
                        "total": total,
                        "needed": needed,
                    }
                )
        return gaps

    def answers(self) -> dict:
        """The cleaned answers in `followup.services.response_record`'s shape."""
        data = self.cleaned_data
        answers = {
            name: data[name]
            for name in ("nrs_current", "nrs_average", "nrs_worst", "pgic", "relief")
            if name in self.fields
        }
        for instrument, sections in DISABILITY_SECTIONS.items():
            if any(section.key == instrument for section in self.sections):
                answers[instrument] = {
                    section_id: data.get(f"{instrument}__{section_id}")
                    for section_id, _title in sections
                }
        if any(section.key == "red_flags" for section in self.sections):
            answers["red_flags"] = {
                code: data.get(f"red_flags__{code}") == "yes"
                for code, _label in self.red_flag_items()
            }
        if any(section.key == "diary" for section in self.sections):
            answers["diary"] = {
                str(minutes): data[f"diary__{minutes}"]
                for minutes in settings.FOLLOWUP_DIARY_OFFSETS_MINUTES
                if data.get(f"diary__{minutes}") is not None
            }
        return answers

    def add_service_errors(self, errors: dict) -> None:
        """Show `SurveyInvalid.errors` next to the question or part they are about."""
        sections = {section.key: section for section in self.sections}
        for key, message in errors.items():
            # The service names answers "odi.lifting"; the form's fields "odi__lifting".
            name = str(key).replace(".", "__")
            if name in self.fields:
                self.add_error(name, message)
            elif key in sections:
                sections[key].error = str(message)
            else:
                self.add_error(None, message)

    def error_summary(self) -> list[tuple[str, str]]:
        """(anchor, message) for every problem, for the list at the top of the page."""
        summary = [("survey-form", str(error)) for error in self.non_field_errors()]
        for section in self.sections:
            if section.error:
                summary.append((f"part-{section.key}", section.error))
            for name in section.names:
                for error in self.errors.get(name, []):
                    summary.append((f"q-{name}", f"{self.fields[name].label}: {error}"))
        return summary


class RescheduleRequestForm(forms.Form):
    message = forms.CharField(
        label=_("Message to the clinic (optional)"),
        help_text=_("For example the days or times that suit you best."),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 4, "class": "form-control", "maxlength": 500}),
    )


class AlertAcknowledgeForm(StyledFormMixin, forms.Form):
    note = forms.CharField(
        label="What did you do?",
        help_text="For example: phoned the patient, advised to attend the emergency department.",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Write what was done before acknowledging the alert."},
    )


def _note(label="Note", required=False):
    return forms.CharField(
        label=label,
        required=required,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class WorklistCallForm(StyledFormMixin, forms.Form):
    outcome = forms.ChoiceField(
        label="Outcome",
        choices=[("", "Choose the outcome"), *WorklistAction.Outcome.choices],
        error_messages={"required": "Choose how the call went."},
    )
    note = _note()


class WorklistSnoozeForm(StyledFormMixin, forms.Form):
    until = forms.DateField(
        label="Call again on",
        widget=DateInput(),
        error_messages={"required": "Choose the day to call again."},
    )
    note = _note()


class WorklistCloseForm(StyledFormMixin, forms.Form):
    reason = forms.ChoiceField(
        label="Reason",
        choices=[("", "Choose a reason"), *WorklistAction.Reason.choices],
        error_messages={"required": "Choose why the row is closed."},
    )
    note = _note()

    def clean(self):
        data = super().clean()
        if data.get("reason") == WorklistAction.Reason.OTHER and not data.get("note", "").strip():
            self.add_error("note", "Say why the row is closed.")
        return data

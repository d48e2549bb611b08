"""Repeat and pathway rules: warnings a booking shows, read from the patient's own history.

The rules are clinic data (PathwayRule, seeded from ../shared/reference/clinical.md: CMS LCD
L39240 "Epidural Steroid Injections for Pain Management" and L38803 "Facet Joint
Interventions for Pain Management", both marked [verify] there). They warn, never refuse:
booking anyway needs a reason, stored as a PathwayOverride. They are not coverage advice.

Scheduling cannot import followup or nursing, so the evidence those apps hold comes in
through providers they register from their AppConfig.ready():

- "relief": fn(appointments) -> list[Relief], relief reported after each appointment
  (survey answers, a diagnostic block's diary peak);
- "baseline": fn(patient, since, until) -> list[Evidence], baseline pain and function
  recorded in that time;
- "levels": fn(appointments) -> dict[appointment id, levels text], the levels actually
  treated (procedure notes), read instead of the booked ones.

A session "counts" when its appointment still holds its time (not cancelled, not a no-show),
past or future. Two dates are inside a window of N days when they are at most N days apart:
with 365, a session 365 days earlier counts and one 366 days earlier does not.
"""

import datetime
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from django.utils import timezone

from scheduling.models import FREED_STATUSES, Appointment, Laterality, PathwayRule

# Tests of other things switch the rules off (tests/conftest.py); a `pathway_rules` marker
# keeps them on.
ENABLED = True

PROVIDERS: dict[str, list[Callable]] = {"relief": [], "baseline": [], "levels": []}


def register(kind: str, provider: Callable) -> None:
    """Add an evidence provider (see the module docstring); registering twice is harmless."""
    if provider not in PROVIDERS[kind]:
        PROVIDERS[kind].append(provider)


@dataclass(frozen=True)
class Relief:
    appointment_id: int
    at: datetime.datetime
    percent: float
    source: str


@dataclass(frozen=True)
class Evidence:
    text: str
    date: str = ""
    appointment: int | None = None


@dataclass
class Warning:
    code: str
    rule: str
    reason: str
    evidence: list[Evidence] = field(default_factory=list)
    source: str = ""
    verify_note: str = ""
    rule_id: int | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        data["evidence"] = [asdict(item) for item in self.evidence]
        return data


_REGION_BY_LETTER = {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "sacral"}


def split_levels(levels: str) -> list[str]:
    return [part.strip().upper() for part in (levels or "").split(",") if part.strip()]


def region_of(levels: str, procedure_type) -> str | None:
    """The spinal region of the first level written, else the procedure's only region."""
    parts = split_levels(levels)
    if parts:
        return _REGION_BY_LETTER.get(parts[0][0])
    if len(procedure_type.regions) == 1:
        return procedure_type.regions[0]
    return None


def _same_region(a: str | None, b: str | None) -> bool:
    # Unknown region: counted with every region, so a missing level never hides a warning.
    return a is None or b is None or a == b


def _same_side(a: str, b: str) -> bool:
    sided = (Laterality.LEFT, Laterality.RIGHT)
    return not (a in sided and b in sided and a != b)


def _days(a: datetime.datetime, b: datetime.datetime) -> int:
    return abs((timezone.localdate(a) - timezone.localdate(b)).days)


def _fmt(moment: datetime.datetime) -> str:
    return timezone.localdate(moment).isoformat()


def _pct(value: float) -> str:
    return f"{value:.0f}%"


@dataclass
class _Session:
    appointment: Appointment
    region: str | None

    @property
    def starts_at(self):
        return self.appointment.starts_at

    def describe(self) -> str:
        a = self.appointment
        where = " ".join(x for x in (a.side_and_level,) if x)
        return f"{a.procedure_type.name}{' ' + where if where else ''} ({a.get_status_display()})"

    def evidence(self) -> Evidence:
        return Evidence(
            text=self.describe(), date=_fmt(self.starts_at), appointment=self.appointment.pk
        )


class Evaluator:
    """One patient's history loaded once, then asked about any start time (the slot finder
    asks it for every slot it offers)."""

    def __init__(
        self,
        *,
        patient,
        procedure_type,
        levels: str = "",
        laterality: str = Laterality.NOT_APPLICABLE,
        indication=None,
        exclude_appointment=None,
    ):
        self.patient = patient
        self.procedure_type = procedure_type
        self.levels = levels or ""
        self.laterality = laterality or Laterality.NOT_APPLICABLE
        self.indication = indication
        self.region = region_of(self.levels, procedure_type)
        self.rules = (
            [r for r in PathwayRule.objects.all() if r.applies_to(procedure_type.code)]
            if ENABLED
            else []
        )
        codes = {code for rule in self.rules for code in rule.counted_codes}
        history = (
            Appointment.objects.filter(patient=patient, procedure_type__code__in=codes)
            .exclude(status__in=FREED_STATUSES)
            .select_related("procedure_type")
            .order_by("starts_at")
        )
        if exclude_appointment is not None:
            history = history.exclude(pk=exclude_appointment.pk)
        history = list(history) if codes else []
        treated: dict[int, str] = {}
        for provider in PROVIDERS["levels"]:
            treated.update(provider(history))
        self.sessions = [
            _Session(a, region_of(treated.get(a.pk) or a.levels, a.procedure_type)) for a in history
        ]
        self._relief: dict[int, list[Relief]] | None = None

    def relief(self, appointment_id: int) -> list[Relief]:
        if self._relief is None:
            self._relief = {}
            appointments = [s.appointment for s in self.sessions]
            for provider in PROVIDERS["relief"]:
                for item in provider(appointments):
                    self._relief.setdefault(item.appointment_id, []).append(item)
        return sorted(self._relief.get(appointment_id, []), key=lambda r: r.at)

    def _counted(self, rule, starts_at, *, before_only=False):
        return [
            s
            for s in self.sessions
            if s.appointment.procedure_type.code in rule.counted_codes
            and _same_region(s.region, self.region)
            and (s.starts_at < starts_at if before_only else True)
        ]

    def warnings_at(self, starts_at: datetime.datetime) -> list[Warning]:
        found = []
        for rule in self.rules:
            check = getattr(self, f"_check_{rule.kind}")
            reason, evidence = check(rule, starts_at)
            if reason:
                found.append(
                    Warning(
                        code=rule.code,
                        rule=rule.name,
                        reason=reason,
                        evidence=evidence,
                        source=rule.source,
                        verify_note=rule.verify_note,
                        rule_id=rule.pk,
                    )
                )
        return found

    # --- one method per PathwayRule.Kind: (reason or "", evidence) ---------------------

    def _check_max_sessions(self, rule, starts_at):
        """At most `limit` sessions in any `window_days` window that holds this one."""
        if rule.limit is None or rule.window_days is None:
            return "", []
        near = [
            s
            for s in self._counted(rule, starts_at)
            if _days(s.starts_at, starts_at) <= rule.window_days
        ]
        new_day = timezone.localdate(starts_at)
        days = sorted([timezone.localdate(s.starts_at) for s in near] + [new_day])
        worst, worst_start = 0, new_day
        for first in days:
            if first <= new_day <= first + datetime.timedelta(days=rule.window_days):
                count = sum(
                    1
                    for d in days
                    if first <= d <= first + datetime.timedelta(days=rule.window_days)
                )
                if count > worst:
                    worst, worst_start = count, first
        if worst <= rule.limit:
            return "", []
        end = worst_start + datetime.timedelta(days=rule.window_days)
        inside = [s for s in near if worst_start <= timezone.localdate(s.starts_at) <= end]
        region = self.region or "this region"
        return (
            f"This would be session {worst} of at most {rule.limit} in the {region} region "
            f"within {rule.window_days} days ({worst_start:%d %b %Y} to {end:%d %b %Y}).",
            [s.evidence() for s in inside],
        )

    def _check_repeat_relief(self, rule, starts_at):
        """A repeat needs relief of at least `percent` reported after the last session,
        lasting `duration_days` when set."""
        earlier = [
            s
            for s in self._counted(rule, starts_at, before_only=True)
            if rule.window_days is None or _days(s.starts_at, starts_at) <= rule.window_days
        ]
        if not earlier or rule.percent is None:
            return "", []
        last = earlier[-1]
        lasting = rule.duration_days or 0
        reports = self.relief(last.appointment.pk)
        for report in reports:
            if report.percent >= rule.percent and (report.at - last.starts_at).days >= lasting:
                return "", []
        evidence = [last.evidence()] + [
            Evidence(
                text=f"{_pct(r.percent)} relief ({r.source}), day {(r.at - last.starts_at).days}",
                date=_fmt(r.at),
                appointment=r.appointment_id,
            )
            for r in reports
        ]
        lasting_text = f" lasting at least {lasting} days" if lasting else ""
        found = (
            "no relief reported"
            if not reports
            else ("best reported " + _pct(max(r.percent for r in reports)))
        )
        return (
            f"A repeat needs at least {rule.percent}% relief{lasting_text} after the last "
            f"session on {_fmt(last.starts_at)}; {found}.",
            evidence,
        )

    def _check_diagnostic_blocks(self, rule, starts_at):
        """`limit` diagnostic blocks before, each with peak relief of at least `percent`."""
        needed = rule.limit or 0
        blocks = [
            s
            for s in self._counted(rule, starts_at, before_only=True)
            if _same_side(s.appointment.laterality, self.laterality)
            and (rule.window_days is None or _days(s.starts_at, starts_at) <= rule.window_days)
        ]
        positive, evidence = 0, []
        for block in blocks:
            reports = self.relief(block.appointment.pk)
            peak = max((r.percent for r in reports), default=None)
            ok = peak is not None and peak >= (rule.percent or 0)
            positive += ok
            evidence.append(
                Evidence(
                    text=f"{block.describe()}: "
                    + ("no relief reported" if peak is None else f"peak relief {_pct(peak)}"),
                    date=_fmt(block.starts_at),
                    appointment=block.appointment.pk,
                )
            )
        if positive >= needed:
            return "", []
        if not blocks:
            evidence = [Evidence(text="No diagnostic block on record in this region.")]
        return (
            f"Needs {needed} diagnostic blocks with at least {rule.percent}% relief before; "
            f"{positive} on record.",
            evidence,
        )

    def _check_max_levels(self, rule, starts_at):
        levels = split_levels(self.levels)
        if rule.limit is None or len(levels) <= rule.limit:
            return "", []
        return (
            f"{len(levels)} levels booked; at most {rule.limit} per session.",
            [Evidence(text=f"Levels: {', '.join(levels)}")],
        )

    def _check_baseline(self, rule, starts_at):
        since = starts_at - datetime.timedelta(days=rule.window_days or 36500)
        found = []
        for provider in PROVIDERS["baseline"]:
            found.extend(provider(self.patient, since, starts_at))
        if found:
            return "", []
        within = f" in the {rule.window_days} days" if rule.window_days else ""
        return (
            f"No baseline pain and function on record{within} before {_fmt(starts_at)}.",
            [],
        )

    def _check_conservative_care(self, rule, starts_at):
        indication = self.indication or self.patient.indications.order_by("-created_at").first()
        if indication is None:
            return "No referral or indication on record.", []
        care = [
            c
            for c in indication.conservative_care.all()
            if c.started <= timezone.localdate(starts_at)
        ]
        evidence = [Evidence(text=f"Indication: {indication}")]
        if indication.symptoms_since:
            evidence.append(
                Evidence(text="Symptoms since", date=indication.symptoms_since.isoformat())
            )
        evidence += [Evidence(text=str(c), date=c.started.isoformat()) for c in care]
        days = indication.symptom_days_on(timezone.localdate(starts_at))
        problems = []
        if days is None:
            problems.append("the symptom start date is not recorded")
        elif days < (rule.duration_days or 0):
            problems.append(f"symptoms for {days} days by then, fewer than {rule.duration_days}")
        if not care:
            problems.append("no conservative care recorded")
        if not problems:
            return "", []
        return (
            f"Needs symptoms for at least {rule.duration_days or 0} days with conservative "
            f"care: {'; '.join(problems)}.",
            evidence,
        )


def pathway_warnings(*, starts_at, **kwargs) -> list[Warning]:
    """The warnings booking this procedure at `starts_at` would give (see Evaluator)."""
    if not ENABLED:
        return []
    return Evaluator(**kwargs).warnings_at(starts_at)


def slot_warnings(slots, *, patient, procedure_type, **kwargs) -> dict:
    """The warnings for each slot's start, by start time, for the slot finder to mark.

    The history is read once; the rules count whole days, so each day is evaluated once.
    """
    if not ENABLED or patient is None or not slots:
        return {}
    evaluator = Evaluator(patient=patient, procedure_type=procedure_type, **kwargs)
    by_day: dict[datetime.date, list[Warning]] = {}
    found = {}
    for slot in slots:
        day = timezone.localdate(slot.starts_at)
        if day not in by_day:
            by_day[day] = evaluator.warnings_at(slot.starts_at)
        found[slot.starts_at] = by_day[day]
    return found

"""Discharge-score items the record already answers, offered to the nurse to confirm.

Only items whose published definition maps directly onto recorded observations are
suggested: blood pressure against the pre-procedure value (Modified Aldrete circulation,
Aldrete JA, J Clin Anesth 1995;7:89-91; Modified PADSS vital signs, Chung F et al.,
J Clin Anesth 1995;7:500-6), and the Aldrete consciousness and SpO2 items from the last
observation round. The nurse's tap is what is scored.
"""

from dataclasses import dataclass

from clinic.nursing import discharge_scores
from clinic.nursing.models import ChecklistAnswer

BASELINE_SYSTOLIC = "baseline-systolic"


@dataclass(frozen=True)
class Suggestion:
    value: int
    because: str


def aldrete_consciousness(acvpu: str) -> int:
    """Alert -> 2 (fully awake); new confusion or voice -> 1 (arousable on calling);
    pain or unresponsive -> 0 (not responding). Aldrete 1995."""
    return {"A": 2, "C": 1, "V": 1}.get(acvpu, 0)


def aldrete_spo2(spo2: int, on_oxygen: bool) -> int:
    """Above 92% on room air -> 2; above 90% otherwise (so oxygen is or may be needed)
    -> 1; 90% or below -> 0. Aldrete 1995."""
    if spo2 > 92 and not on_oxygen:
        return 2
    if spo2 > 90:
        return 1
    return 0


def _baseline_systolic(appointment) -> int | None:
    answer = (
        ChecklistAnswer.objects.filter(
            appointment=appointment, item__code=BASELINE_SYSTOLIC, signed_at__isnull=False
        )
        .only("value")
        .first()
    )
    if answer is None or not isinstance(answer.value, int | float):
        return None
    return int(answer.value)


def discharge_suggestions(appointment, scale: discharge_scores.DischargeScale) -> dict:
    """item code -> Suggestion, for the items the record can answer."""
    last = appointment.observation_rounds.order_by("-taken_at", "-pk").first()
    if last is None:
        return {}
    found = {}
    baseline = _baseline_systolic(appointment)
    if baseline:
        bp = f"systolic {last.systolic_bp} against {baseline} before the procedure"
        if scale.code == "aldrete":
            found["circulation"] = Suggestion(
                discharge_scores.circulation_score_from_bp(baseline, last.systolic_bp), bp
            )
        else:
            found["vital_signs"] = Suggestion(
                discharge_scores.padss_vitals_score_from_bp(baseline, last.systolic_bp), bp
            )
    if scale.code == "aldrete":
        found["consciousness"] = Suggestion(
            aldrete_consciousness(last.consciousness),
            f"last round: {last.get_consciousness_display().lower()}",
        )
        air = "on oxygen" if last.on_oxygen else "on air"
        found["spo2"] = Suggestion(
            aldrete_spo2(last.spo2, last.on_oxygen), f"last round: SpO₂ {last.spo2}% {air}"
        )
    return found

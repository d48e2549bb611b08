"""Where the outcomes of a procedure find facts other areas record.

The follow-up engine computes outcomes but may not import the nursing record (both build
on scheduling, independently). An area that records something outcomes need registers a
provider here at start-up (its AppConfig.ready); follow-up asks through this module.

`baseline_pain`: the pain score (NRS-11, 0-10) recorded before the procedure, used as
the baseline when the patient answered no baseline survey (marked as such).
`treated_levels`: the side and levels a signed procedure note says were treated, which an
outcome row reports instead of those booked.
"""

from collections.abc import Callable, Iterable

BaselinePainProvider = Callable[[list[int]], dict[int, int]]

_baseline_pain_providers: dict[str, BaselinePainProvider] = {}


def register_baseline_pain(name: str, provider: BaselinePainProvider) -> None:
    """Register `provider(appointment_ids) -> {appointment_id: NRS 0-10}` under `name`.

    Registering the same name again replaces it (ready() may run more than once).
    """
    _baseline_pain_providers[name] = provider


def baseline_pain(appointment_ids: Iterable[int]) -> dict[int, int]:
    """The pre-procedure pain score of each appointment that has one, from every provider.

    One query per provider, whatever the number of appointments.
    """
    ids = list(appointment_ids)
    found: dict[int, int] = {}
    if not ids:
        return found
    for provider in _baseline_pain_providers.values():
        for appointment_id, score in provider(ids).items():
            found.setdefault(appointment_id, score)
    return found


TreatedLevelsProvider = Callable[[list[int]], dict[int, tuple[str, str]]]

_treated_levels_providers: dict[str, TreatedLevelsProvider] = {}


def register_treated_levels(name: str, provider: TreatedLevelsProvider) -> None:
    """Register `provider(appointment_ids) -> {appointment_id: (laterality, "L4-L5, L5-S1")}`
    under `name` (registering a name again replaces it)."""
    _treated_levels_providers[name] = provider


def treated_levels(appointment_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """Side and levels actually treated, for each appointment whose record says so.

    One query per provider, whatever the number of appointments.
    """
    ids = list(appointment_ids)
    found: dict[int, tuple[str, str]] = {}
    if not ids:
        return found
    for provider in _treated_levels_providers.values():
        for appointment_id, treated in provider(ids).items():
            found.setdefault(appointment_id, treated)
    return found

"""Which red-flag questions a patient is asked: those of the region the procedure treated.

The questions are protocol data (`RedFlagQuestion`, seeded from shared/reference/clinical.md).
A survey asks the "any region" questions and those of every region the appointment treats:

- the appointment's levels decide first: C* cervical, T* thoracic, L*/S*/coccyx lumbar and
  sacral; levels spanning two regions ("C7-T1") ask both;
- with no levels, the procedure type's spinal regions decide;
- a procedure type that treats only peripheral targets gets the "any region" questions;
- with nothing known at all, every region's questions are asked: an extra question costs the
  patient a tap, a missed cauda equina or airway question can cost far more.

Region questions come first (they are the emergencies), then the general ones; a code asked
by two regions (leg weakness: thoracic and lumbar) is asked once.
"""

from clinic.models import SpinalRegion
from followup import scoring
from followup.models import RedFlagQuestion, RedFlagRegion

REGION_ORDER = (
    RedFlagRegion.CERVICAL,
    RedFlagRegion.THORACIC,
    RedFlagRegion.LUMBAR_SACRAL,
    RedFlagRegion.ANY,
)
_RANK = {region: rank for rank, region in enumerate(REGION_ORDER)}
SPINAL_REGIONS = {
    SpinalRegion.CERVICAL: RedFlagRegion.CERVICAL,
    SpinalRegion.THORACIC: RedFlagRegion.THORACIC,
    SpinalRegion.LUMBAR: RedFlagRegion.LUMBAR_SACRAL,
    SpinalRegion.SACRAL: RedFlagRegion.LUMBAR_SACRAL,
}


def _level_region(level: str) -> str | None:
    level = level.strip().upper()
    if level.startswith(("CO", "COCCYX")):  # coccyx before cervical: both start with C
        return RedFlagRegion.LUMBAR_SACRAL
    first = level[:1]
    if first == "C":
        return RedFlagRegion.CERVICAL
    if first == "T":
        return RedFlagRegion.THORACIC
    if first in ("L", "S"):
        return RedFlagRegion.LUMBAR_SACRAL
    return None


def _ordered(regions) -> list[str]:
    return sorted({str(region) for region in regions if region}, key=_RANK.__getitem__)


def level_regions(levels: str) -> list[str]:
    """Red-flag regions of levels as written on the appointment ("C5-C6, C6-C7", "L5-S1")."""
    parts = (level for segment in (levels or "").split(",") for level in segment.split("-"))
    return _ordered(_level_region(level) for level in parts if level.strip())


def red_flag_regions(appointment) -> list[str]:
    """The regions whose questions this appointment's patient is asked (see module doc)."""
    regions = level_regions(appointment.levels)
    if regions:
        return regions
    type_regions = appointment.procedure_type.regions or []
    regions = _ordered(SPINAL_REGIONS.get(region) for region in type_regions)
    if regions or type_regions:
        return regions
    return _ordered(REGION_ORDER[:-1])


def red_flag_questions(appointment) -> list[RedFlagQuestion]:
    """The active questions for this appointment, in the order they are asked."""
    regions = [*red_flag_regions(appointment), RedFlagRegion.ANY]
    rows = sorted(
        RedFlagQuestion.objects.filter(active=True, region__in=regions),
        key=lambda row: (_RANK[row.region], row.order, row.code),
    )
    seen, questions = set(), []
    for row in rows:
        if row.code not in seen:
            seen.add(row.code)
            questions.append(row)
    return questions


def red_flag_labels(*, regions=(), language: str = "en") -> dict[str, str]:
    """Wording of every code ever asked, for showing stored answers and alerts.

    Codes answered before the screen went by region keep the wording they had then
    (`scoring.RED_FLAGS`); a code asked by several regions takes the wording of the first
    of `regions` that asks it, preferring active questions.
    """
    labels = dict(scoring.RED_FLAGS)
    preferred = {str(region) for region in regions}
    rows = sorted(
        RedFlagQuestion.objects.all(),
        key=lambda row: (
            row.active,
            row.region in preferred,
            -_RANK[row.region],
            -row.order,
        ),
    )
    for row in rows:
        labels[row.code] = row.text(language)
    return labels


def red_flag_catalogue() -> list[tuple[str, str]]:
    """(code, English wording) of every red-flag code, for the FHIR Questionnaire.

    Every region's questions and the codes of answers stored before regions, so that any
    stored response can be exported against it.
    """
    labels = red_flag_labels()
    rows = sorted(
        RedFlagQuestion.objects.all(), key=lambda row: (_RANK[row.region], row.order, row.code)
    )
    codes = list(dict.fromkeys([row.code for row in rows] + list(labels)))
    return [(code, labels[code]) for code in codes]

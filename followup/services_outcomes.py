"""Writes of the outcome rows (followup.OutcomeEpisode): one per treated appointment.

The rows are derived: recomputed from the surveys and the nurse's record, never edited.
`outcome_episode_refresh` runs after the commit of a survey answer or of the
appointment's move to recovery, discharge or completion (followup.services and
followup.receivers); `outcome_episodes_rebuild` recomputes many at once (`manage.py
rebuild_outcomes`, the benchmark). Both are idempotent: the same facts give the same row.
"""

import logging
import threading
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from followup import outcomes
from followup.blocks import peak_relief_by_appointment
from followup.models import Invitation, OutcomeEpisode, Response, disability_instrument
from scheduling import outcome_sources
from scheduling.models import Appointment, Status

logger = logging.getLogger(__name__)

# A procedure was done: it has outcomes to follow.
TREATED = (Status.IN_RECOVERY, Status.DISCHARGED, Status.COMPLETED)
LEVEL_REGIONS = {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "sacral"}


def episode_region(appointment, levels: str | None = None) -> str:
    """The treated region: by the first level written ("L5-S1" is lumbar; `levels` treated,
    else those booked), else the procedure type's only region, else unknown ("")."""
    levels = (appointment.levels if levels is None else levels).strip().upper()
    if levels[:1] in LEVEL_REGIONS:
        return LEVEL_REGIONS[levels[:1]]
    regions = appointment.procedure_type.regions or []
    return regions[0] if len(regions) == 1 else ""


def _baseline_of(row) -> outcomes.Baseline:
    return outcomes.Baseline(
        source=outcomes.SURVEY,
        nrs_current=row["nrs_current"],
        nrs_average=row["nrs_average"],
        odi_percent=row["odi_percent"],
        ndi_percent=row["ndi_percent"],
    )


def _episode(appointment, answers, nurse_nrs, block, treated, now) -> OutcomeEpisode:
    """`treated`: (laterality, levels) from a signed procedure note, or None (as booked)."""
    zone = appointment.site.zone
    treated_on = timezone.localtime(appointment.starts_at, zone).date()
    survey_baseline, followups = None, []
    for row in answers:
        if row["invitation__kind"] == Invitation.Kind.BASELINE:
            survey_baseline = _baseline_of(row)
            continue
        # Days by the survey's due day, so "2 weeks" counts 14 however late it was answered.
        days = (timezone.localtime(row["invitation__due_at"], zone).date() - treated_on).days
        followups.append(
            outcomes.FollowUp(
                days=max(days, 0),
                nrs_current=row["nrs_current"],
                nrs_average=row["nrs_average"],
                pgic=row["pgic"],
                odi_percent=row["odi_percent"],
                ndi_percent=row["ndi_percent"],
            )
        )
    baseline = outcomes.choose_baseline(survey_baseline, nurse_nrs)
    measures = outcomes.episode_measures(
        baseline, followups, str(disability_instrument(appointment))
    )
    laterality, levels = treated or (appointment.laterality, appointment.levels)
    episode = OutcomeEpisode(
        appointment_id=appointment.pk,
        patient_id=appointment.patient_id,
        procedure_type_id=appointment.procedure_type_id,
        physician_id=appointment.physician_id,
        site_id=appointment.site_id,
        diagnosis_id=appointment.indication.diagnosis_id if appointment.indication else None,
        treated_on=treated_on,
        region=episode_region(appointment, levels),
        levels=levels,
        laterality=laterality,
        baseline_nrs=measures.baseline_nrs,
        baseline_source=measures.baseline_source if measures.baseline_nrs is not None else "",
        has_followup=measures.has_followup,
        last_point=measures.last_point,
        last_relief=measures.last_relief,
        immpact_category=measures.immpact_category,
        responder_30=measures.responder_30,
        responder_50=measures.responder_50,
        disability_instrument=measures.disability_instrument,
        disability_baseline=measures.disability_baseline,
        disability_last=measures.disability_last,
        disability_change=measures.disability_change,
        disability_mcid=measures.disability_mcid,
        pgic_last=measures.pgic_last,
        pgic_improved=measures.pgic_improved,
        durable_days=measures.durable_days,
        durable_event=measures.durable_event,
        block_peak_relief=block.peak_relief if block else None,
        block_result=block.result if block else "",
        refreshed_at=now,
    )
    for code in outcomes.POINT_CODES:
        setattr(episode, f"relief_{code}", measures.relief[code])
        setattr(episode, f"responder30_{code}", measures.responder30[code])
        setattr(episode, f"responder50_{code}", measures.responder50[code])
    return episode


ANSWER_FIELDS = (
    "invitation__appointment_id",
    "invitation__kind",
    "invitation__due_at",
    "nrs_current",
    "nrs_average",
    "pgic",
    "odi_percent",
    "ndi_percent",
)


def _rebuild_chunk(ids: list[int], now) -> int:
    appointments = list(
        Appointment.objects.filter(pk__in=ids, status__in=TREATED)
        .select_related("site", "procedure_type", "indication")
        .only(
            "pk",
            "patient_id",
            "physician_id",
            "starts_at",
            "levels",
            "laterality",
            "site__time_zone",
            "procedure_type__regions",
            "indication__diagnosis",
        )
    )
    treated = [appointment.pk for appointment in appointments]
    answers = defaultdict(list)
    rows = (
        Response.objects.filter(
            invitation__appointment_id__in=treated,
            invitation__kind__in=Invitation.SURVEY_KINDS,
        )
        .order_by("invitation__due_at", "pk")
        .values(*ANSWER_FIELDS)
    )
    for row in rows:
        answers[row["invitation__appointment_id"]].append(row)
    nurse = outcome_sources.baseline_pain(treated)
    blocks = peak_relief_by_appointment(treated)
    noted = outcome_sources.treated_levels(treated)
    episodes = [
        _episode(
            appointment,
            answers[appointment.pk],
            nurse.get(appointment.pk),
            blocks.get(appointment.pk),
            noted.get(appointment.pk),
            now,
        )
        for appointment in appointments
    ]
    with transaction.atomic():
        OutcomeEpisode.objects.filter(appointment_id__in=ids).delete()
        OutcomeEpisode.objects.bulk_create(episodes)
    return len(episodes)


def outcome_episodes_rebuild(*, appointment_ids=None, batch_size: int = 2000, now=None) -> int:
    """Recompute the outcome rows of these appointments (all when None); returns how many.

    An appointment not (or no longer) treated loses its row. A constant number of queries
    per `batch_size` appointments: the appointments, their answered surveys, the nurse's
    baseline pain and the levels treated (scheduling.outcome_sources), diagnostic blocks' diaries
    (followup.blocks), a delete and an insert.
    """
    now = now or timezone.now()
    if appointment_ids is None:
        treated = Appointment.objects.filter(status__in=TREATED).order_by("pk")
        ids = list(treated.values_list("pk", flat=True))
        OutcomeEpisode.objects.exclude(appointment__status__in=TREATED).delete()
    else:
        ids = sorted(set(appointment_ids))
    done = 0
    for start in range(0, len(ids), batch_size):
        done += _rebuild_chunk(ids[start : start + batch_size], now)
    return done


def outcome_episode_refresh(*, appointment_id: int, now=None) -> OutcomeEpisode | None:
    """Recompute one appointment's outcome row; None when it was not treated."""
    outcome_episodes_rebuild(appointment_ids=[appointment_id], now=now)
    return OutcomeEpisode.objects.filter(appointment_id=appointment_id).first()


def outcome_episode_refresh_after_commit(*, appointment_id: int) -> None:
    """Refresh the row once the change that called this has committed.

    The appointments named in one transaction are recomputed together by its first commit
    callback (the others find nothing left), so a transaction saving hundreds of answers
    (seeding, an import) rebuilds in batches instead of once per answer. An id named in a
    rolled-back transaction is recomputed at the next commit: harmless, the row is derived.

    `robust`: a failure is logged and left for `rebuild_outcomes`; it must never undo or
    fail the patient's answer or the appointment's change that triggered it.
    """
    _pending.__dict__.setdefault("ids", set()).add(appointment_id)
    transaction.on_commit(_refresh_pending, robust=True)


# Per thread, as database connections are.
_pending = threading.local()


def _refresh_pending() -> None:
    ids = _pending.__dict__.pop("ids", None)
    if ids:
        outcome_episodes_rebuild(appointment_ids=sorted(ids))

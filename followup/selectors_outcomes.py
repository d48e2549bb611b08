"""Reads of outcomes: who got better, by how much, for how long, after which procedure.

Aggregates the stored outcome rows (followup.OutcomeEpisode, one per treated appointment)
in SQL, in a fixed number of queries whatever the number of rows:

1. per group: counts, responders at each follow-up point, ODI/NDI change, PGIC (GROUP BY);
2. the same over all the rows (the "All" line: patients are counted once however many
   groups they are in);
3. the relief values with their counts per group and point, for the medians (a histogram:
   relief comes from two 0-10 scores, so there are few distinct values);
4. the durability times with their events and censorings per group, for Kaplan-Meier;
5. the names of the groups.

The SQL runs over the filtered rows as the ORM writes them (`_filtered`), so the filters,
the user's sites and these aggregates cannot disagree. It is plain SQL that PostgreSQL and
SQLite (`make run`) both run. The statistics (Wilson, Kaplan-Meier) are followup.outcomes.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet

from clinic.models import Diagnosis, ProcedureType, Site, SpinalRegion
from clinic.selectors import field_by_key
from followup.models import OutcomeEpisode
from followup.outcomes import (
    MIN_GROUP,
    POINT_LABELS,
    POINTS,
    KMStep,
    Rate,
    kaplan_meier,
    km_median,
    km_survival_at,
)
from followup.selectors_worklists import PATIENT_SHOWN
from scheduling.models import Laterality

# The ways the page groups rows: name -> (column, label).
GROUPINGS = {
    "procedure_type": ("procedure_type_id", "Procedure type"),
    "physician": ("physician_id", "Physician"),
    "site": ("site_id", "Site"),
    "diagnosis": ("diagnosis_id", "Diagnosis"),
    "region": ("region", "Region"),
    "laterality": ("laterality", "Side"),
}
# The columns the aggregates read (values() of the filtered rows).
COLUMNS = [
    "patient_id",
    "procedure_type_id",
    "physician_id",
    "site_id",
    "diagnosis_id",
    "region",
    "laterality",
    "has_followup",
    "baseline_source",
    "last_relief",
    "responder_30",
    "responder_50",
    "disability_instrument",
    "disability_change",
    "disability_mcid",
    "pgic_last",
    "pgic_improved",
    "durable_days",
    "durable_event",
    *(f"{kind}_{code}" for code, _l, _d in POINTS for kind in ("relief", "responder50")),
    *(f"responder30_{code}" for code, _l, _d in POINTS),
]
LAST = "last"  # the episode's last answer with a relief, as a pseudo-point


def _point_sql(code: str) -> str:
    relief = "last_relief" if code == LAST else f"relief_{code}"
    r30 = "responder_30" if code == LAST else f"responder30_{code}"
    r50 = "responder_50" if code == LAST else f"responder50_{code}"
    return (
        f"COUNT({relief}) AS n_{code}, "
        f"COUNT(CASE WHEN {r30} THEN 1 END) AS r30_{code}, "
        f"COUNT(CASE WHEN {r50} THEN 1 END) AS r50_{code}"
    )


POINT_AND_LAST = [*(code for code, _l, _d in POINTS), LAST]
AGGREGATES = ", ".join(
    [
        "COUNT(DISTINCT patient_id) AS patients",
        "COUNT(*) AS treated",
        "COUNT(CASE WHEN has_followup THEN 1 END) AS followed",
        "COUNT(CASE WHEN baseline_source = 'nurse' THEN 1 END) AS nurse_baseline",
        "COUNT(CASE WHEN baseline_source = '' THEN 1 END) AS no_baseline",
        *(_point_sql(code) for code in POINT_AND_LAST),
        *(
            f"COUNT(CASE WHEN disability_instrument = '{i}' THEN 1 END) AS {i}_n, "
            f"SUM(CASE WHEN disability_instrument = '{i}' THEN disability_change END) AS {i}_sum, "
            f"COUNT(CASE WHEN disability_instrument = '{i}' AND disability_mcid THEN 1 END) "
            f"AS {i}_mcid"
            for i in ("odi", "ndi")
        ),
        "COUNT(pgic_last) AS pgic_n",
        "COUNT(CASE WHEN pgic_improved THEN 1 END) AS pgic_improved",
    ]
)


@dataclass(frozen=True)
class PointResult:
    code: str
    label: str
    n: int
    r30: Rate
    r50: Rate
    median: float | None


@dataclass(frozen=True)
class MeanChange:
    """Mean improvement (baseline minus follow-up; ODI % points, NDI raw points)."""

    n: int
    total: float
    mcid: Rate

    @property
    def mean(self) -> float | None:
        return None if self.n < MIN_GROUP else self.total / self.n


@dataclass
class GroupResult:
    key: object
    label: str
    patients: int
    treated: int
    followed: Rate
    nurse_baseline: int
    no_baseline: int
    points: list[PointResult]
    last: PointResult
    odi: MeanChange
    ndi: MeanChange
    pgic: Rate
    km: list[KMStep] = field(default_factory=list)

    @property
    def suppressed(self) -> bool:
        """Fewer than MIN_GROUP patients: no rate, median or curve is shown."""
        return self.patients < MIN_GROUP

    @property
    def km_median(self) -> int | None:
        return km_median(self.km)

    def km_at(self, days: int) -> float | None:
        return km_survival_at(self.km, days)

    def summary(self) -> str:
        """The group in a sentence or three: what a chart shows, for those who cannot see it."""
        head = (
            f"{self.label}: {self.treated} treated ({self.patients} patients), "
            f"{self.followed.k} answered a follow-up survey."
        )
        if self.suppressed:
            return f"{head} Fewer than {MIN_GROUP} patients: no rates are shown."
        parts = [head]
        shown = [p for p in self.points if not p.r50.suppressed]
        if shown:
            best = max(shown, key=lambda p: p.n)
            low, high = best.r50.interval
            parts.append(
                f"At {best.label.lower()} ({best.n} answers) {best.r50.value:.0%} had at least "
                f"50% relief (95% CI {low:.0%}–{high:.0%})"
                + (f", median relief {best.median:.0f}%." if best.median is not None else ".")
            )
        if self.km:
            median = self.km_median
            parts.append(
                f"Half had lost 50% relief by day {median}."
                if median is not None
                else "More than half still had 50% relief at the last answer "
                f"(day {self.km[-1].days})."
            )
        return " ".join(parts)


@dataclass
class OutcomeSummary:
    grouping: str
    grouping_label: str
    groups: list[GroupResult]
    overall: GroupResult
    points: list[tuple[str, str]]  # the follow-up points any row has an answer at


def _filtered(episodes: QuerySet) -> tuple[str, tuple]:
    sql, params = episodes.order_by().values(*COLUMNS).query.sql_with_params()
    return sql, tuple(params)


def _fetch(sql: str, params) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _median(histogram: dict) -> float | None:
    """The median of values given with their counts (the mean of the middle two if even)."""
    total = sum(histogram.values())
    if not total:
        return None
    wanted = [(total - 1) // 2, total // 2]
    found, seen = [], 0
    for value in sorted(histogram):
        count = histogram[value]
        for index in wanted:
            if seen <= index < seen + count:
                found.append(float(value))
        seen += count
    return sum(found) / len(found)


def _group(key, label, row, histograms, km_counts) -> GroupResult:
    def point(code):
        n = row[f"n_{code}"] or 0
        label = "Last answer" if code == LAST else POINT_LABELS[code]
        return PointResult(
            code,
            label,
            n,
            Rate(row[f"r30_{code}"] or 0, n),
            Rate(row[f"r50_{code}"] or 0, n),
            _median(histograms.get(code, {})) if n >= MIN_GROUP else None,
        )

    def change(instrument):
        n = row[f"{instrument}_n"] or 0
        return MeanChange(
            n, float(row[f"{instrument}_sum"] or 0), Rate(row[f"{instrument}_mcid"] or 0, n)
        )

    group = GroupResult(
        key=key,
        label=label,
        patients=row["patients"] or 0,
        treated=row["treated"] or 0,
        followed=Rate(row["followed"] or 0, row["treated"] or 0),
        nurse_baseline=row["nurse_baseline"] or 0,
        no_baseline=row["no_baseline"] or 0,
        points=[point(code) for code, _l, _d in POINTS],
        last=point(LAST),
        odi=change("odi"),
        ndi=change("ndi"),
        pgic=Rate(row["pgic_improved"] or 0, row["pgic_n"] or 0),
    )
    if not group.suppressed:
        group.km = kaplan_meier(km_counts)
    return group


def _labels(grouping: str, keys) -> dict:
    keys = [key for key in keys if key not in (None, "")]
    if grouping == "procedure_type":
        return dict(ProcedureType.objects.filter(pk__in=keys).values_list("pk", "name"))
    if grouping == "physician":
        users = get_user_model().objects.filter(pk__in=keys)
        return {user.pk: user.get_full_name() or user.get_username() for user in users}
    if grouping == "site":
        return dict(Site.objects.filter(pk__in=keys).values_list("pk", "name"))
    if grouping == "diagnosis":
        return {row.pk: str(row) for row in Diagnosis.objects.filter(pk__in=keys)}
    if grouping == "region":
        return dict(SpinalRegion.choices)
    return dict(Laterality.choices)


def _overall(rows: list[dict], inner: str, params) -> dict:
    """The aggregates of all rows: the groups' counts and sums added up, and the patients
    counted once (a patient treated in two groups is in both). Counting the patients alone
    takes a third of the time of every aggregate again."""
    if not rows:
        return _fetch(f"SELECT {AGGREGATES} FROM ({inner}) e", params)[0]
    total = {name: None for name in rows[0] if name != "grp"}
    for row in rows:
        for name, value in row.items():
            if name != "grp" and value is not None:
                total[name] = value if total[name] is None else total[name] + value
    sql = f"SELECT COUNT(DISTINCT patient_id) AS patients FROM ({inner}) e"
    total["patients"] = _fetch(sql, params)[0]["patients"]
    return total


def outcome_summary(episodes: QuerySet, *, grouping: str = "procedure_type") -> OutcomeSummary:
    """Aggregates of `episodes` (already filtered and cut to the user's sites) by `grouping`.

    Five queries (four when nothing matches), whatever the number of rows.
    """
    column, grouping_label = GROUPINGS[grouping]
    inner, params = _filtered(episodes)
    rows = _fetch(
        f"SELECT {column} AS grp, {AGGREGATES} FROM ({inner}) e GROUP BY {column}", params
    )
    overall_row = _overall(rows, inner, params)
    # One pass over the rows for every point: the CTE is read by each part of the union.
    histogram_sql = f"WITH e AS ({inner}) " + " UNION ALL ".join(
        f"SELECT {column} AS grp, '{code}' AS point, {relief} AS relief, COUNT(*) AS n "
        f"FROM e WHERE {relief} IS NOT NULL GROUP BY {column}, {relief}"
        for code in POINT_AND_LAST
        for relief in ["last_relief" if code == LAST else f"relief_{code}"]
    )
    histograms: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    overall_histograms: dict = defaultdict(lambda: defaultdict(int))
    if rows:
        for row in _fetch(histogram_sql, params):
            histograms[row["grp"]][row["point"]][row["relief"]] += row["n"]
            overall_histograms[row["point"]][row["relief"]] += row["n"]
    km_counts: dict = defaultdict(list)
    overall_km = []
    if rows:
        km_rows = _fetch(
            f"SELECT {column} AS grp, durable_days AS days, "
            "COUNT(CASE WHEN durable_event THEN 1 END) AS events, "
            "COUNT(CASE WHEN NOT durable_event THEN 1 END) AS censored "
            f"FROM ({inner}) e WHERE durable_days IS NOT NULL GROUP BY {column}, durable_days",
            params,
        )
        for row in km_rows:
            counts = (row["days"], row["events"], row["censored"])
            km_counts[row["grp"]].append(counts)
            overall_km.append(counts)
    labels = _labels(grouping, [row["grp"] for row in rows]) if rows else {}
    groups = [
        _group(
            row["grp"],
            labels.get(row["grp"]) or "Not recorded",
            row,
            histograms[row["grp"]],
            km_counts[row["grp"]],
        )
        for row in rows
    ]
    groups.sort(key=lambda group: (-group.treated, group.label))
    overall = _group(None, "All", overall_row, overall_histograms, overall_km)
    answered = {code for code, _l, _d in POINTS if overall_row[f"n_{code}"]}
    points = [(code, label) for code, label, _d in POINTS if code in answered]
    return OutcomeSummary(grouping, grouping_label, groups, overall, points)


# What the episode list and its CSV show of the rows behind each line: whole rows cost more
# to load than the page's own SQL takes to run.
EPISODE_LIST_FIELDS = (
    *(field.name for field in OutcomeEpisode._meta.concrete_fields),
    *PATIENT_SHOWN,
    "physician__first_name",
    "physician__last_name",
    "physician__username",
    "site__name",
)


def episodes_for_list(episodes: QuerySet) -> QuerySet:
    """The per-episode rows for the list and CSV (followup.tables_outcomes), as the
    appointment list reads its rows: the procedure's name and the diagnosis code by key
    (`field_by_key`), three tables joined."""
    return (
        episodes.select_related("patient", "physician", "site")
        .annotate(
            procedure_name=field_by_key(ProcedureType, "name", "procedure_type"),
            diagnosis_code=field_by_key(Diagnosis, "code", "diagnosis"),
        )
        .only(*EPISODE_LIST_FIELDS)
    )


def physician_comparison(*, physician, episodes: QuerySet, today: datetime.date) -> list[dict]:
    """The physician's last 12 months per procedure type against the whole clinic's.

    [{"label", "mine": GroupResult, "clinic": GroupResult}] for the types they did. Two
    aggregate runs (ten queries at most), whatever the number of rows.
    """
    since = today - datetime.timedelta(days=365)
    year = episodes.filter(treated_on__gt=since, treated_on__lte=today)
    mine = outcome_summary(year.filter(physician=physician))
    if not mine.groups:
        return []
    types = [group.key for group in mine.groups]
    clinic = {
        group.key: group
        for group in outcome_summary(year.filter(procedure_type_id__in=types)).groups
    }
    return [
        {"label": group.label, "mine": group, "clinic": clinic[group.key]} for group in mine.groups
    ]

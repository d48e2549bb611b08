"""FHIR search: parameters to query filters, and keyset paging over one or more sources.

A search answers with resources built from rows; some rows make several resources (a
round makes seven Observations). Pages are cut by a cursor "<source>.<row pk>.<index>"
naming the first resource of the next page, so a page costs one query per source it
touches, however many rows there are, and rows added meanwhile never shift a page.
"""

import calendar
import datetime
import re
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet

from clinic.fhir import codes, resources, selectors
from clinic.fhir.access import fhir_patient_scope


class SearchError(ValueError):
    """A search parameter the server cannot understand: answered 400 OperationOutcome."""


# Parameters of every search, handled by the view rather than a resource's filters.
CONTROL = {"_count", "_cursor", "_format", "_include"}

_DATE = re.compile(
    r"^(?P<prefix>eq|ne|lt|le|gt|ge|sa|eb|ap)?"
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?P<fraction>\.\d{1,6})?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def _zone(match) -> datetime.tzinfo:
    zone = match["zone"]
    if not zone:
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)
    if zone == "Z":
        return datetime.UTC
    sign = 1 if zone[0] == "+" else -1
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    return datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))


def parse_date(value: str) -> tuple[str, datetime.datetime, datetime.datetime]:
    """(prefix, start, end) of a date search value: the range its precision covers.

    "2026-11" is the whole month, "2026-11-23T10:00" that minute; a value without a zone
    is in the clinic's TIME_ZONE.
    """
    match = _DATE.match(value)
    if not match:
        raise SearchError(f"{value!r} is not a date such as 2026-11-23 or ge2026-11-23T10:00Z.")
    prefix = match["prefix"] or "eq"
    if prefix == "ap":
        raise SearchError("The ap (approximately) date prefix is not supported.")
    zone = _zone(match)
    year = int(match["year"])
    month, day = int(match["month"] or 1), int(match["day"] or 1)
    try:
        if match["hour"] is None:
            start = datetime.datetime(year, month, day, tzinfo=zone)
            if match["day"]:
                end = start + datetime.timedelta(days=1)
            elif match["month"]:
                end = start + datetime.timedelta(days=calendar.monthrange(year, month)[1])
            else:
                end = start.replace(year=year + 1)
        else:
            second = int(match["second"] or 0)
            micro = int((match["fraction"] or ".0")[1:].ljust(6, "0"))
            start = datetime.datetime(
                year, month, day, int(match["hour"]), int(match["minute"]), second, micro, zone
            )
            if match["fraction"]:
                step = datetime.timedelta(microseconds=1)
            elif match["second"]:
                step = datetime.timedelta(seconds=1)
            else:
                step = datetime.timedelta(minutes=1)
            end = start + step
    except (ValueError, OverflowError):
        raise SearchError(f"{value!r} is not a possible date.") from None
    return prefix, start, end


def date_q(field: str, values: list[str], *, date_only: bool = False) -> Q:
    """All of `values` (each may carry a prefix) on a datetime field, or a date field.

    The value is a range; the stored time is a point (a date is its whole day):
    eq in the range, lt/eb before it, le before its end, gt/sa after its end, ge from its start.
    """
    combined = Q()
    for value in values:
        prefix, start, end = parse_date(value)
        if date_only:
            zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
            low = start.astimezone(zone).date()
            high_point = end.astimezone(zone)
            high = high_point.date() + datetime.timedelta(days=1 if high_point.time() else 0)
        else:
            low, high = start, end
        in_range = Q(**{f"{field}__gte": low, f"{field}__lt": high})
        combined &= {
            "eq": in_range,
            "ne": ~in_range,
            "lt": Q(**{f"{field}__lt": low}),
            "eb": Q(**{f"{field}__lt": low}),
            "le": Q(**{f"{field}__lt": high}),
            "gt": Q(**{f"{field}__gte": high}),
            "sa": Q(**{f"{field}__gte": high}),
            "ge": Q(**{f"{field}__gte": low}),
        }[prefix]
    return combined


def split_or(value: str) -> list[str]:
    """The comma-separated alternatives of one value (a backslash escapes a comma)."""
    parts = re.split(r"(?<!\\),", value)
    return [part.replace("\\,", ",") for part in parts]


def token(value: str) -> tuple[str | None, str]:
    """(system or None for any, code) of a token "system|code", "|code" or "code"."""
    if "|" in value:
        system, code = value.split("|", 1)
        return system, code
    return None, value


def reference_ids(values: list[str], resource_type: str) -> list[list[int]]:
    """Ids of "Patient/12", "12" or an absolute URL ending so; one list per AND value."""
    result = []
    for value in values:
        ids = []
        for part in split_or(value):
            tail = part.rstrip("/").split("/")
            if len(tail) >= 2 and tail[-2] != resource_type:
                raise SearchError(f"{part!r} is not a {resource_type} reference.")
            if not tail[-1].isdigit():
                raise SearchError(f"{part!r} is not a {resource_type} id.")
            ids.append(int(tail[-1]))
        result.append(ids)
    return result


def _string_q(fields: list[str], values: list[str], modifier: str) -> Q:
    lookup = {"": "istartswith", "exact": "exact", "contains": "icontains"}.get(modifier)
    if lookup is None:
        raise SearchError(f"The :{modifier} modifier is not supported on names.")
    combined = Q()
    for value in values:
        alternatives = Q()
        for alternative in split_or(value):
            words = alternative.split() if lookup != "exact" else [alternative]
            every_word = Q()
            for word in words:
                any_field = Q()
                for field in fields:
                    any_field |= Q(**{f"{field}__{lookup}": word})
                every_word &= any_field
            alternatives |= every_word
        combined &= alternatives
    return combined


class Params:
    """The request's search parameters, checked against what a resource type supports."""

    def __init__(self, query: dict[str, list[str]], allowed: Iterable[str]):
        self.values: dict[str, list[str]] = {}
        self.modifiers: dict[str, str] = {}
        allowed = set(allowed)
        for key, values in query.items():
            if key in CONTROL:
                continue
            name, _colon, modifier = key.partition(":")
            if name not in allowed:
                raise SearchError(f"Unknown search parameter {key!r}.")
            if any("\x00" in value for value in values):
                raise SearchError(f"{key} holds a NUL character.")
            if any(value == "" for value in values):
                raise SearchError(f"{key} needs a value.")
            self.values.setdefault(name, []).extend(values)
            self.modifiers[name] = modifier

    def get(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def modifier(self, name: str) -> str:
        return self.modifiers.get(name, "")


@dataclass
class Source:
    """Rows ordered by pk (a queryset, or a list paged by position), each row making one
    or more resources; `patient_id` of a row for the audit trail (None: not a patient's)."""

    rows: QuerySet | list
    expand: Callable
    patient_id: Callable = lambda row: None

    def fetch(self, from_pk: int, limit: int) -> list[tuple[int, object]]:
        if isinstance(self.rows, list):
            return list(enumerate(self.rows))[from_pk : from_pk + limit]
        return [(row.pk, row) for row in self.rows.filter(pk__gte=from_pk).order_by("pk")[:limit]]


@dataclass
class Hit:
    resource: object
    patient_id: int | None
    row: object


def parse_cursor(value: str | None) -> tuple[int, int, int]:
    if not value:
        return 0, 0, 0
    parts = value.split(".")
    if len(parts) != 3 or not all(part.isdigit() and len(part) < 19 for part in parts):
        raise SearchError("_cursor is not a cursor this server gave out.")
    return int(parts[0]), int(parts[1]), int(parts[2])


def page(sources: list[Source], count: int, cursor: str | None) -> tuple[list[Hit], str | None]:
    """Up to `count` resources from `cursor` on, and the cursor of the next page (or None)."""
    start_source, start_pk, start_index = parse_cursor(cursor)
    hits: list[Hit] = []
    if count == 0:
        return hits, None
    for source_number in range(start_source, len(sources)):
        source = sources[source_number]
        from_pk = start_pk if source_number == start_source else 0
        while True:
            # Each row makes at least one resource: count + 1 rows always fill a page.
            batch = source.fetch(from_pk, count + 1)
            for pk, row in batch:
                made = source.expand(row)
                first = start_index if (source_number, pk) == (start_source, start_pk) else 0
                for index in range(first, len(made)):
                    if len(hits) == count:
                        return hits, f"{source_number}.{pk}.{index}"
                    hits.append(Hit(made[index], source.patient_id(row), row))
            if len(batch) <= count:
                break  # the source is exhausted
            from_pk = batch[-1][0] + 1
    return hits, None


# --- What each resource type can be searched by ---------------------------------------


def _patient_of(row) -> int:
    return row.patient_id


def _patient_filter(params: Params, field: str) -> Q:
    combined = Q()
    for ids in reference_ids(params.get("patient") + params.get("subject"), "Patient"):
        combined &= Q(**{f"{field}__in": ids})
    return combined


def _ids(params: Params) -> Q:
    combined = Q()
    for value in params.get("_id"):
        ids = split_or(value)
        if not all(i.isdigit() for i in ids):
            return Q(pk__in=[])
        combined &= Q(pk__in=[int(i) for i in ids])
    return combined


def search_patient(user, query) -> list[Source]:
    params = Params(query, {"_id", "identifier", "name", "family", "given", "birthdate", "gender"})
    filters = _ids(params)
    for value in params.get("identifier"):
        alternatives = Q(pk__in=[])
        for part in split_or(value):
            system, code = token(part)
            if system in (None, "", codes.local("sid/mrn")):
                alternatives |= Q(mrn__iexact=code.strip())
        filters &= alternatives
    for name, fields in (
        ("name", ["first_name", "last_name"]),
        ("family", ["last_name"]),
        ("given", ["first_name"]),
    ):
        if params.get(name):
            filters &= _string_q(fields, params.get(name), params.modifier(name))
    if params.get("birthdate"):
        filters &= date_q("date_of_birth", params.get("birthdate"), date_only=True)
    for value in params.get("gender"):
        filters &= Q(sex__in=split_or(value))
    rows = fhir_patient_scope(user, selectors.patients().filter(filters), "")
    return [Source(rows, lambda p: [resources.patient_resource(p)], lambda p: p.pk)]


def _status_values(values: list[str]) -> Q:
    combined = Q()
    for value in values:
        wanted = set(split_or(value))
        unknown = wanted - codes.FHIR_APPOINTMENT_STATUSES
        if unknown:
            raise SearchError(f"{', '.join(sorted(unknown))} is not an Appointment status.")
        ours = [mine for mine, theirs in codes.APPOINTMENT_STATUS.items() if theirs in wanted]
        combined &= Q(status__in=ours)
    return combined


def search_appointment(user, query) -> list[Source]:
    params = Params(query, {"_id", "date", "patient", "subject", "practitioner", "status"})
    filters = _ids(params) & _patient_filter(params, "patient_id")
    for ids in reference_ids(params.get("practitioner"), "Practitioner"):
        filters &= Q(physician_id__in=ids)
    if params.get("date"):
        filters &= date_q("starts_at", params.get("date"))
    if params.get("status"):
        filters &= _status_values(params.get("status"))
    rows = fhir_patient_scope(user, selectors.appointments().filter(filters), "patient")
    return [Source(rows, lambda a: [resources.appointment_resource(a)], _patient_of)]


def search_procedure(user, query) -> list[Source]:
    params = Params(query, {"_id", "date", "patient", "subject"})
    filters = _ids(params) & _patient_filter(params, "patient_id")
    if params.get("date"):
        filters &= date_q("starts_at", params.get("date"))
    rows = fhir_patient_scope(user, selectors.procedures().filter(filters), "patient")
    return [Source(rows, lambda a: [resources.procedure_resource(a)], _patient_of)]


def _observation_kinds(params: Params) -> list:
    kinds = list(codes.OBSERVATION_KINDS)
    for value in params.get("code"):
        tokens = [token(part) for part in split_or(value)]
        kinds = [k for k in kinds if any(k.matches(s or None, c) for s, c in tokens)]
    for value in params.get("category"):
        categories = {token(part)[1] for part in split_or(value)}
        kinds = [k for k in kinds if k.category in categories]
    return kinds


def search_observation(user, query) -> list[Source]:
    params = Params(query, {"patient", "subject", "code", "date", "category"})
    kinds = _observation_kinds(params)
    round_kinds = [kind for kind in kinds if kind.source == "round"]
    pro_kinds = [kind for kind in kinds if kind.source == "pro"]
    sources = []
    if round_kinds:
        filters = _patient_filter(params, "appointment__patient_id")
        if params.get("date"):
            filters &= date_q("taken_at", params.get("date"))
        rows = selectors.observation_rounds().filter(filters)
        rows = fhir_patient_scope(user, rows, "appointment__patient")
        sources.append(
            Source(
                rows,
                lambda r: resources.round_observations(r, round_kinds),
                lambda r: r.appointment.patient_id,
            )
        )
    if pro_kinds:
        filters = _patient_filter(params, "patient_id")
        has_score = Q()
        for kind in pro_kinds:
            has_score |= Q(**{f"{kind.field}__isnull": False})
        if params.get("date"):
            filters &= date_q("submitted_at", params.get("date"))
        rows = fhir_patient_scope(user, selectors.responses().filter(filters, has_score), "patient")
        sources.append(
            Source(rows, lambda r: resources.response_observations(r, pro_kinds), _patient_of)
        )
    return sources


def search_questionnaire_response(user, query) -> list[Source]:
    params = Params(query, {"patient", "subject", "authored", "questionnaire"})
    filters = _patient_filter(params, "patient_id")
    if params.get("authored"):
        filters &= date_q("submitted_at", params.get("authored"))
    wanted = None
    for value in params.get("questionnaire"):
        ids = {part.rstrip("/").split("/")[-1] for part in split_or(value)}
        wanted = ids if wanted is None else wanted & ids
    # Only responses with an answer to a wanted instrument: each row makes a resource.
    keys = [
        key
        for instrument in codes.QUESTIONNAIRE_IDS
        if wanted is None or codes.QUESTIONNAIRE_IDS[instrument] in wanted
        for key in resources.answer_keys(instrument)
    ]
    filters &= Q(answers__has_any_keys=keys) if keys else Q(pk__in=[])
    rows = fhir_patient_scope(user, selectors.responses().filter(filters), "patient")

    def expand(response):
        made = resources.questionnaire_responses(response)
        if wanted is not None:
            made = [qr for qr in made if qr.id.split("-", 1)[1] in wanted]
        return made

    return [Source(rows, expand, _patient_of)]


def search_flag(user, query) -> list[Source]:
    params = Params(query, {"patient", "subject", "status"})
    filters = _patient_filter(params, "patient_id")
    for value in params.get("status"):
        statuses = set(split_or(value))
        if not statuses <= {"active", "inactive", "entered-in-error"}:
            raise SearchError("Flag status is active, inactive or entered-in-error.")
        status_q = Q(pk__in=[])
        if "active" in statuses:
            status_q |= Q(acknowledged_at__isnull=True)
        if "inactive" in statuses:
            status_q |= Q(acknowledged_at__isnull=False)
        filters &= status_q
    rows = fhir_patient_scope(user, selectors.alerts().filter(filters), "patient")
    return [Source(rows, lambda a: [resources.flag_resource(a)], _patient_of)]


def search_practitioner(user, query) -> list[Source]:
    Params(query, set())
    return [Source(selectors.practitioners(), lambda u: [resources.practitioner_resource(u)])]


def search_location(user, query) -> list[Source]:
    Params(query, set())
    return [
        Source(selectors.sites(), lambda s: [resources.site_location(s)]),
        Source(selectors.rooms(), lambda r: [resources.room_location(r)]),
    ]


def search_activity_definition(user, query) -> list[Source]:
    Params(query, set())
    return [Source(selectors.procedure_types(), lambda p: [resources.activity_definition(p)])]


def search_questionnaire(user, query) -> list[Source]:
    Params(query, set())
    return [Source(list(codes.QUESTIONNAIRE_IDS), lambda i: [resources.questionnaire_resource(i)])]


SEARCHES: dict[str, Callable] = {
    "Patient": search_patient,
    "Practitioner": search_practitioner,
    "Location": search_location,
    "ActivityDefinition": search_activity_definition,
    "Appointment": search_appointment,
    "Procedure": search_procedure,
    "Observation": search_observation,
    "QuestionnaireResponse": search_questionnaire_response,
    "Questionnaire": search_questionnaire,
    "Flag": search_flag,
}
# Search parameters each type supports, for the CapabilityStatement: (name, type, doc).
SEARCH_PARAMS: dict[str, list[tuple[str, str, str]]] = {
    "Patient": [
        ("_id", "token", "Patient id"),
        ("identifier", "token", "MRN, optionally with its system"),
        ("name", "string", "Starts a first or last name (each word); :exact, :contains"),
        ("family", "string", "Starts the last name"),
        ("given", "string", "Starts the first name"),
        ("birthdate", "date", "Date of birth, with prefixes eq, ne, lt, le, gt, ge, sa, eb"),
        ("gender", "token", "female, male, other or unknown"),
    ],
    "Appointment": [
        ("_id", "token", "Appointment id"),
        ("date", "date", "Start of the appointment (room time), with prefixes"),
        ("patient", "reference", "Patient/<id>"),
        ("practitioner", "reference", "Practitioner/<id>: the physician"),
        ("status", "token", "FHIR appointment status (see the status map in README)"),
    ],
    "Procedure": [
        ("_id", "token", "Procedure id (= appointment id)"),
        ("date", "date", "Start of the booked room time"),
        ("patient", "reference", "Patient/<id>"),
    ],
    "Observation": [
        ("patient", "reference", "Patient/<id>"),
        ("code", "token", "LOINC or clinic code, e.g. http://loinc.org|8480-6"),
        ("date", "date", "When taken or answered"),
        ("category", "token", "vital-signs, exam or survey"),
    ],
    "QuestionnaireResponse": [
        ("patient", "reference", "Patient/<id>"),
        ("authored", "date", "When the patient answered"),
        ("questionnaire", "reference", "Questionnaire id or canonical URL"),
    ],
    "Flag": [
        ("patient", "reference", "Patient/<id>"),
        ("status", "token", "active (not acknowledged) or inactive"),
    ],
}

"""Reads of the clinic model."""

import datetime
import re
import unicodedata

from django.db.models import Exists, F, Func, OuterRef, Q, QuerySet, Subquery, Value
from django.utils import timezone

from clinic.models import AuditEvent, Diagnosis, Patient

# A birth date typed into a search box: 27-05-1966, 27.05.1966, 1966-05-27 or 270566.
_DATE_FORMATS = (
    (re.compile(r"\d{1,2}[-./]\d{1,2}[-./]\d{4}"), "%d-%m-%Y"),
    (re.compile(r"\d{4}-\d{1,2}-\d{1,2}"), "%Y-%m-%d"),
    (re.compile(r"\d{6}"), "%d%m%y"),
)


class CappedCount(int):
    """A count that stopped at its cap: compares as the rows counted (at most cap + 1) and
    reads "cap+" when there were more."""

    cap: int

    def __new__(cls, value: int, cap: int):
        count = super().__new__(cls, value)
        count.cap = cap
        return count

    @property
    def more(self) -> bool:
        return self > self.cap

    def __str__(self) -> str:
        return f"{self.cap}+" if self.more else super().__str__()


def local_midnight(day: datetime.date) -> datetime.datetime:
    """The start of `day` in the clinic's zone (the current time zone)."""
    return datetime.datetime.combine(day, datetime.time(0), timezone.get_current_timezone())


def capped_count(queryset, cap: int) -> CappedCount:
    """Count the rows up to `cap` + 1 only: a start page's number stays cheap when a backlog
    runs to tens of thousands (the database stops reading at the limit)."""
    return CappedCount(queryset.order_by().values("pk")[: cap + 1].count(), cap)


def field_by_key(model, field: str, key: str) -> Subquery:
    """`field` of the `model` row whose pk is the outer row's `key`, as an annotation.

    A list reads small tables' names this way rather than joining them: each joined table
    multiplies the join orders PostgreSQL weighs, and planning a six-table list query took
    longer (10-35 ms) than running it. Unordered: a model's default order could join
    another table into every row's subquery (a room's orders by its site).
    """
    return Subquery(model.objects.filter(pk=OuterRef(key)).order_by().values(field)[:1])


def parse_birth_date(word: str) -> datetime.date | None:
    """The date a search word spells, in the formats the desk types; None if it is none.
    A two-digit year is read as the latest one not in the future (a birth date)."""
    for pattern, fmt in _DATE_FORMATS:
        if pattern.fullmatch(word):
            try:
                day = datetime.datetime.strptime(re.sub(r"[./]", "-", word), fmt).date()
            except ValueError:
                return None
            if fmt == "%d%m%y" and day > timezone.localdate():
                day = day.replace(year=day.year - 100)
            return day
    return None


def fold(text: str) -> str:
    """Lower case without accents: "Ørsted" and "orsted" compare equal, as do "Æ" and "ae"."""
    text = text.casefold().replace("ø", "o").replace("æ", "ae").replace("å", "aa")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _name_words(text: str) -> list[str]:
    return [word for word in re.split(r"[\s,.\-]+", fold(text)) if word]


def _initials_filter(letters: str) -> Q:
    """ "KL" or "K L": first name starting with K and last name with L, either order."""
    first, last = letters[0], letters[1]
    return Q(first_name__istartswith=first, last_name__istartswith=last) | Q(
        first_name__istartswith=last, last_name__istartswith=first
    )


def patient_search(*, query: str = "", date_of_birth: datetime.date | None = None) -> QuerySet:
    """Patients matching every word of `query` and the date of birth.

    A word is an MRN, part of a name, or a birth date (27-05-1966, 1966-05-27, 270566); "Lund,
    Karin" is read as last name, first name; two capital letters ("KL") or two single letters
    ("K L") are initials. Records merged into another are left out.
    """
    patients = Patient.objects.filter(merged_into__isnull=True)
    query = query.strip()
    if date_of_birth:
        patients = patients.filter(date_of_birth=date_of_birth)
    if not query:
        return patients
    words = query.replace(",", " ").split()
    if re.fullmatch(r"[^\W\d_] [^\W\d_]", query):  # "K L": initials only
        return patients.filter(_initials_filter(query.replace(" ", "")))
    if re.fullmatch(r"[A-ZÆØÅ]{2}", query):  # "KL": initials, or a name holding "kl"
        return patients.filter(_initials_filter(query) | _words_filter(words))
    return patients.filter(_words_filter(words))


def _words_filter(words: list[str]) -> Q:
    condition = Q()
    for word in words:
        born = parse_birth_date(word)
        if born is not None:
            condition &= Q(date_of_birth=born)
        else:
            condition &= (
                Q(mrn__iexact=word)
                | Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(national_id=word)
            )
    return condition


def _digits(column: str) -> Func:
    return Func(F(column), Value(r"\D"), Value(""), Value("g"), function="regexp_replace")


def similar_names(a_first: str, a_last: str, b_first: str, b_last: str) -> bool:
    """The same person's name as the desk might type it twice: case, accents and the order
    of the names do not matter, and one may leave out a middle name."""
    a = set(_name_words(f"{a_first} {a_last}"))
    b = set(_name_words(f"{b_first} {b_last}"))
    if not a or not b:
        return False
    return a <= b or b <= a


def patient_duplicates(
    *,
    first_name: str = "",
    last_name: str = "",
    date_of_birth: datetime.date | None = None,
    national_id: str = "",
    phone: str = "",
    email: str = "",
    exclude: Patient | None = None,
) -> list[Patient]:
    """Patients who may be this one: the same birth date and a similar name, or the same
    national ID, phone number (digits compared) or email address. Merged records are left
    out; each candidate carries `duplicate_reason`."""
    condition = Q()
    if date_of_birth:
        condition |= Q(date_of_birth=date_of_birth)
    if national_id:
        condition |= Q(national_id=national_id)
    if email:
        condition |= Q(email__iexact=email.strip())
    phone_digits = re.sub(r"\D", "", phone)
    if len(phone_digits) >= 6:
        condition |= Q(phone_digits=phone_digits)
    if not condition:
        return []
    candidates = (
        Patient.objects.filter(merged_into__isnull=True, anonymised_at__isnull=True)
        .alias(phone_digits=_digits("phone"))
        .filter(condition)
    )
    if exclude is not None and exclude.pk:
        candidates = candidates.exclude(pk=exclude.pk)
    found = []
    for candidate in candidates[:50]:
        reasons = []
        if national_id and candidate.national_id == national_id:
            reasons.append("same national ID")
        if (
            date_of_birth
            and candidate.date_of_birth == date_of_birth
            and similar_names(first_name, last_name, candidate.first_name, candidate.last_name)
        ):
            reasons.append("same birth date and a similar name")
        if phone_digits and re.sub(r"\D", "", candidate.phone) == phone_digits:
            reasons.append("same phone number")
        if email and candidate.email.lower() == email.strip().lower():
            reasons.append("same email address")
        if reasons:
            candidate.duplicate_reason = ", ".join(reasons)
            found.append(candidate)
    return found


def patients_for_page() -> QuerySet:
    """Patients as their page reads them: with whether any records were merged into each
    (rare, as is a record merged into another: the page reads those only then)."""
    return Patient.objects.annotate(
        has_merged_records=Exists(Patient.objects.filter(merged_into=OuterRef("pk")))
    )


def patient_clinical_record(*, patient: Patient) -> dict:
    # One patient's rows: their models' orderings without the join to the patient.
    return {
        "medications": list(patient.medications.order_by("name")),
        "allergies": list(patient.allergies.order_by("kind")),
        "indications": list(
            patient.indications.select_related("diagnosis")
            .prefetch_related("conservative_care", "imaging")
            .order_by("-created_at")
        ),
    }


def diagnosis_search(*, query: str) -> QuerySet:
    """Active diagnoses whose ICD-10 code starts with, or whose text holds, every word."""
    diagnoses = Diagnosis.objects.filter(active=True)
    for word in query.split():
        diagnoses = diagnoses.filter(Q(code__istartswith=word) | Q(text__icontains=word))
    return diagnoses.order_by("code")


def audit_events() -> QuerySet:
    """The audit trail, newest first, with the user and patient each row names."""
    return AuditEvent.objects.select_related("user", "patient").order_by("-at", "-pk")

"""The tools of a patient's GDPR rights that every area uses: rows as plain data for the
data-subject export, and the scrubbing of a patient's identifying values out of text.

Each area takes part through `<app>.privacy` (see clinic.areas):
- `export_sections(patient) -> list[Section]`: its part of the export;
- `patient_rows(patient) -> list[QuerySet]`: every row of the area that belongs to the
  patient, history rows included; their text is scrubbed of the patient's identifying values;
- `anonymise(patient)`: what it blanks outright (addresses, patient-written messages);
- optionally `last_activity(patient) -> list[datetime]`, from which the retention runs, and
  `anonymise_refusals(patient) -> list[str]`, why the identity is still needed.
"""

import datetime
import decimal
import re
from dataclasses import dataclass, field

from django.db import models
from django.db.models import F, Func, Value
from django.db.models.functions import Cast
from django.utils import timezone

REMOVED = "[removed]"


@dataclass
class Section:
    """One part of the export: `key` names it in the JSON, `title` on the page."""

    key: str
    title: str
    rows: list[dict] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return list(self.rows[0]) if self.rows else []


def plain(value):
    """A value as JSON can carry it (and a page can show it)."""
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat(timespec="minutes")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, models.Model):
        return str(value)
    return value


def rows(queryset, fields: list[str]) -> list[dict]:
    """Each row as {field: value}; a choice shows its label, a related row its name.

    A dotted name follows relations ("item.label").
    """
    result = []
    for obj in queryset:
        row = {}
        for name in fields:
            target, attr = obj, name
            *path, attr = name.split(".")
            for step in path:
                target = getattr(target, step, None) if target is not None else None
            display = getattr(target, f"get_{attr}_display", None)
            value = display() if display else getattr(target, attr, None)
            row[name.replace(".", "_")] = plain(value)
        result.append(row)
    return result


class Identifiers:
    """A patient's identifying values, and their removal from text wherever it is kept.

    Matches whole words only, case-insensitively: "Bo" is removed, "Body" is not.
    """

    def __init__(self, values):
        unique = {value.strip() for value in values if value and value.strip()}
        self.values = sorted(unique, key=lambda value: (-len(value), value))
        alternatives = "|".join(re.escape(value) for value in self.values)
        # Postgres AREs read these escapes and look-arounds as Python does.
        self.sql_pattern = f"(?<![[:alnum:]])(?:{alternatives})(?![[:alnum:]])"
        self._python = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)

    @classmethod
    def of(cls, patient) -> "Identifiers":
        born = patient.date_of_birth
        email = patient.email or ""
        local_part = email.partition("@")[0]
        digits = re.sub(r"\D", "", patient.phone or "")
        dates = []
        if born is not None:
            dates = [
                *(born.strftime(f) for f in ("%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%Y")),
                f"{born.day}.{born.month}.{born.year}",
                f"{born.day}/{born.month}/{born.year}",
            ]
        return cls(
            [
                patient.first_name,
                patient.last_name,
                patient.full_name,
                f"{patient.last_name}, {patient.first_name}" if patient.last_name else "",
                patient.mrn,
                email,
                local_part if len(local_part) >= 4 else "",
                patient.phone,
                digits if len(digits) >= 6 else "",
                patient.national_id,
                patient.national_id.replace("-", ""),
                *dates,
            ]
        )

    def redact(self, text: str) -> str:
        return self._python.sub(REMOVED, text) if self.values and text else text

    def scrub(self, queryset) -> int:
        """Replace the identifying values in every text and JSON column of these rows, in
        one UPDATE; choice columns hold codes, not text anyone wrote, and are left."""
        if not self.values:
            return 0
        changes = {}
        for column in queryset.model._meta.concrete_fields:
            if column.primary_key or column.choices:
                continue
            if isinstance(column, models.CharField | models.TextField):
                changes[column.attname] = self._replace(F(column.attname), column)
            elif isinstance(column, models.JSONField):
                as_text = Cast(F(column.attname), models.TextField())
                changes[column.attname] = Cast(self._replace(as_text, models.TextField()), column)
        return queryset.update(**changes) if changes else 0

    def _replace(self, expression, output_field):
        return Func(
            expression,
            Value(self.sql_pattern),
            Value(REMOVED),
            Value("gi"),
            function="regexp_replace",
            output_field=output_field,
        )

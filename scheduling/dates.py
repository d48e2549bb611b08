"""The range of dates scheduling accepts from a user (forms, filters, query strings, the API).

A pure rule, for services as much as for pages; the form field and filter that apply it
are scheduling.forms.ScheduleDateField and scheduling.filters.ScheduleDateFilter.
"""

import datetime

from django.core.exceptions import ValidationError

# Dates near 0001-01-01 or 9999-12-31 overflow Python's datetime as soon as a page adds a
# day, a week or a time-zone offset (OverflowError, a 500). No clinic books, plans leave or
# looks for slots outside this century, so every date a user types is held to it.
EARLIEST_DAY = datetime.date(2000, 1, 1)
LATEST_DAY = datetime.date(2099, 12, 31)
OUT_OF_RANGE = f"Enter a date between {EARLIEST_DAY:%Y-%m-%d} and {LATEST_DAY:%Y-%m-%d}."


def in_range(day: datetime.date) -> bool:
    return EARLIEST_DAY <= day <= LATEST_DAY


def validate_schedule_day(value: datetime.date) -> None:
    if value is not None and not in_range(value):
        raise ValidationError(OUT_OF_RANGE, code="out_of_range")

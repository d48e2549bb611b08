"""The range of dates scheduling accepts from a user (forms, filters, query strings)."""

import datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError

from clinic.forms import DateInput

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


class ScheduleDateField(forms.DateField):
    """A date field that refuses days outside EARLIEST_DAY..LATEST_DAY with a clear message."""

    default_validators = [validate_schedule_day]
    widget = DateInput


class ScheduleDateFilter(django_filters.DateFilter):
    field_class = ScheduleDateField

"""`{% perioperative_rows procedures %}`: the patient page's perioperative record rows, in
Python: a template's lookups and filters cost about forty function calls a cell, more than
these rows' share of the page."""

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

register = template.Library()


@register.simple_tag
def perioperative_rows(procedures):
    """Each procedure's `<tr>`: when (the clinic's time), what, status, a link to its record."""
    return format_html_join("", "{}", ((_row(appointment),) for appointment in procedures))


def _row(appointment):
    side_and_level = appointment.side_and_level
    return format_html(
        "<tr><td>{}</td><td>{}{}</td><td>{}</td>\n"
        '<td class="text-end"><a class="btn btn-sm btn-outline-primary" href="{}">Open record'
        "</a></td></tr>\n",
        timezone.localtime(appointment.starts_at).strftime("%Y-%m-%d %H:%M"),
        appointment.procedure_type.name,
        f" · {side_and_level}" if side_and_level else "",
        appointment.get_status_display(),
        reverse("nursing_record", args=[appointment.pk]),
    )

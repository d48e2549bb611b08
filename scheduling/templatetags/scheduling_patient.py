"""`{% appointment_rows appointments %}`: the patient page's appointment rows, in Python.

A template's lookups and filters cost about forty function calls a cell; the rows of the
patient's appointments cost more than their share of the page, so they are formatted here.
"""

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join

from scheduling.templatetags.scheduling_booking import person, status_badge

register = template.Library()


@register.simple_tag
def appointment_rows(appointments):
    """Each appointment's `<tr>`: when (at its site), procedure, side and level, physician,
    site and room, status."""
    return format_html_join("", "{}", ((_row(appointment),) for appointment in appointments))


def _row(appointment):
    site = appointment.site
    starts = timezone.localtime(appointment.starts_at, site.zone)
    return format_html(
        '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{} · {}</td>'
        "<td>{}</td></tr>\n",
        appointment.get_absolute_url(),
        dateformat.format(starts, "D Y-m-d H:i"),
        appointment.procedure_type.name,
        appointment.side_and_level or "—",
        person(appointment.physician),
        site.name,
        appointment.room.name if appointment.room else "",
        status_badge(appointment),
    )

import json

from django import template

register = template.Library()


@register.filter
def field_title(name: str) -> str:
    """ "first_name" as "First name": the export's JSON keys as column headings."""
    return name.replace("_", " ").capitalize()


@register.filter
def export_value(value) -> str:
    """A value of the export as a reader expects it: yes/no, a dash for nothing, and lists
    and answers as JSON rather than Python's notation."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)

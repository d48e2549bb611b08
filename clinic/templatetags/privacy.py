from django import template

register = template.Library()


@register.filter
def field_title(name: str) -> str:
    """ "first_name" as "First name": the export's JSON keys as column headings."""
    return name.replace("_", " ").capitalize()

"""Template tags of the nursing record, for pages of other areas (the patient page)."""

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from clinic.nursing import selectors

register = template.Library()


@register.simple_tag
def perioperative_appointments(patient):
    return selectors.patient_perioperative_appointments(patient=patient)


@register.filter
def leaflet_text(text: str):
    """Patient text as paragraphs, its "- " lines as a real bulleted list (printed leaflets
    and emails show typographic bullets, not hyphens)."""
    blocks, items = [], []

    def flush_items():
        if items:
            blocks.append(
                format_html(
                    "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((i,) for i in items))
                )
            )
            items.clear()

    for line in (text or "").splitlines():
        stripped = line.strip()
        if stripped.startswith(("- ", "• ")):
            items.append(stripped[2:].strip())
            continue
        flush_items()
        if stripped:
            blocks.append(format_html("<p>{}</p>", stripped))
    flush_items()
    return mark_safe("".join(str(block) for block in blocks))

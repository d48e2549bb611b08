"""`{% area_includes "nav.html" %}`: each area's part of a shared page (see clinic.areas)."""

from django import template
from django.template import TemplateDoesNotExist
from django.utils.safestring import mark_safe

from clinic.areas import areas

register = template.Library()


@register.simple_tag(takes_context=True)
def area_includes(context, name):
    """Each area's `<app label>/<name>`, where it has one, rendered as `{% include %}` would,
    in INSTALLED_APPS order."""
    parts = []
    for config in areas():
        try:
            part = context.template.engine.get_template(f"{config.label}/{name}")
        except TemplateDoesNotExist:
            continue
        with context.push():
            parts.append(part.render(context))
    return mark_safe("".join(parts))

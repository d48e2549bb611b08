"""`{% area_includes "nav.html" %}`: each area's part of a shared page (see clinic.areas)."""

from django import template
from django.template import TemplateDoesNotExist
from django.utils.safestring import mark_safe

from clinic.areas import areas

register = template.Library()


def _area_templates(engine, name) -> list:
    parts = []
    for config in areas():
        try:
            parts.append(engine.get_template(f"{config.label}/{name}"))
        except TemplateDoesNotExist:
            continue
    return parts


@register.simple_tag(takes_context=True)
def area_includes(context, name):
    """Each area's `<app label>/<name>`, where it has one, rendered as `{% include %}` would,
    in INSTALLED_APPS order."""
    # Found once per page, as {% include %} does: a board asks on every card.
    found = context.render_context.dicts[0].setdefault("area_includes", {})
    if name not in found:
        found[name] = _area_templates(context.template.engine, name)
    parts = []
    for part in found[name]:
        with context.push():
            parts.append(part.render(context))
    return mark_safe("".join(parts))

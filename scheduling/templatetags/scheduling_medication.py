from django import template

from scheduling.selectors_medication import plan_of

register = template.Library()


@register.inclusion_tag("scheduling/booking/_medication_plan.html")
def medication_plan(appointment):
    """The appointment's medication plan card (nothing when the patient takes no
    antithrombotic)."""
    return {"plan": plan_of(appointment), "appointment": appointment}

from django import template

from scheduling.selectors_medication import plan_of

register = template.Library()


@register.inclusion_tag("scheduling/booking/_medication_plan.html")
def medication_plan(appointment):
    """The appointment's medication plan card (nothing when the patient takes no
    antithrombotic)."""
    plan = plan_of(appointment)
    call = appointment.medication_calls.select_related("called_by").first() if plan else None
    return {"plan": plan, "appointment": appointment, "call": call}

"""Template tags of the nursing record, for pages of other areas (the patient page)."""

from django import template

from clinic.nursing import selectors

register = template.Library()


@register.simple_tag
def perioperative_appointments(patient):
    return selectors.patient_perioperative_appointments(patient=patient)


@register.simple_tag
def hard_stop_flags(appointment):
    """The appointment's failed hard stops and overrides (nursing/_hard_stop_flag.html)."""
    return selectors.appointment_hard_stop_flags(appointment)

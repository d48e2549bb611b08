"""Template tags of the nursing record, for pages of other areas (the patient page)."""

from django import template

from clinic.nursing import selectors

register = template.Library()


@register.simple_tag
def perioperative_appointments(patient):
    return selectors.patient_perioperative_appointments(patient=patient)

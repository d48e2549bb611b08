"""Template tags of the follow-up extension points (nav badge, start-page card, timeline).

These templates receive only what the shared pages pass (the user, the patient), so the
tags fetch what they show, each in one query.
"""

from django import template

from clinic.roles import Role, roles_of
from followup import selectors_story
from followup import selectors_worklists as selectors
from followup.blocks import peak_relief_by_appointment

register = template.Library()


@register.simple_tag
def unacknowledged_alert_count() -> int:
    return selectors.unacknowledged_alert_count()


@register.simple_tag
def followup_counts(user) -> dict:
    return selectors.followup_counts(user=user)


@register.simple_tag
def followup_timeline(patient) -> list:
    return selectors.patient_followup_timeline(patient=patient)


@register.simple_tag
def open_clinical_alerts(user) -> list:
    return list(selectors.open_clinical_alerts_for_user(user))


@register.simple_tag
def clinical_alerts_of_day(user, schedule) -> list:
    """The clinical alerts of a physician's day, for those who read alerts."""
    if schedule is None or not user.has_perm("followup.view_alert"):
        return []
    return list(selectors.clinical_alerts_of_appointments(schedule.appointments, user=user))


@register.filter
def is_physician(user) -> bool:
    """Whether `user` may take a clinical alert (followup.services.alert_acknowledge)."""
    return Role.PHYSICIAN in roles_of(user)


@register.simple_tag
def diagnostic_block(appointment):
    """The appointment's diagnostic block result (followup.blocks), None for other procedures."""
    return peak_relief_by_appointment([appointment.pk]).get(appointment.pk)


@register.simple_tag
def patient_story(patient):
    """The patient's timeline of pain, disability and procedures (followup.selectors_story)."""
    return selectors_story.patient_story(patient=patient)

"""Template tags of the follow-up extension points (nav badge, start-page card, timeline).

These templates receive only what the shared pages pass (the user, the patient), so the
tags fetch what they show, each in one query.
"""

from django import template

from followup import selectors_worklists as selectors

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

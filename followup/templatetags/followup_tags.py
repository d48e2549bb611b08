"""Template tags of the follow-up extension points (nav badge, start-page card, timeline).

These templates receive only what the shared pages pass (the user, the patient), so the
tags fetch what they show, each in one query.
"""

from django import template
from django.utils import timezone

from clinic import sites
from clinic.roles import Role, roles_of
from followup import selectors_patient, selectors_story
from followup import selectors_worklists as selectors
from followup.blocks import peak_relief_by_appointment
from followup.models import OutcomeEpisode
from followup.selectors_outcomes import physician_comparison

register = template.Library()


def _open_alerts_of_this_page(context) -> dict:
    """The nav badge and the start page's card show the same number of open alerts: one
    COUNT per page, kept where the whole render (base template and includes) shares it."""
    return context.render_context.dicts[0].setdefault("open_alerts", {})


@register.simple_tag(takes_context=True)
def unacknowledged_alert_count(context, user) -> int:
    counted = _open_alerts_of_this_page(context)
    if user.pk not in counted:
        counted[user.pk] = selectors.unacknowledged_alert_count(user)
    return counted[user.pk]


@register.simple_tag(takes_context=True)
def followup_counts(context, user) -> dict:
    counted = _open_alerts_of_this_page(context)
    counts = selectors.followup_counts(user=user, open_alerts=counted.get(user.pk))
    if "open_alerts" in counts:
        counted[user.pk] = counts["open_alerts"]
    return counts


@register.simple_tag
def recent_followup(patient) -> dict:
    """The patient's latest follow-up `rows` and how many there are in all (`total`)."""
    rows, total = selectors_patient.recent_patient_followup_rows(patient=patient)
    return {"rows": rows, "total": total}


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


# Days at which the outcomes page reads the durability curve.
KM_DAYS = (30, 91, 182, 365)


@register.simple_tag
def km_counts(group) -> dict:
    """Totals of a group's Kaplan-Meier steps, and the days its table reads."""
    return {
        "total": sum(step.events + step.censored for step in group.km),
        "events": sum(step.events for step in group.km),
        "censored": sum(step.censored for step in group.km),
        "days": KM_DAYS,
    }


@register.simple_tag
def km_at(group, days) -> str:
    """S(days) as a percent, or "—" beyond the last time anyone was followed."""
    survival = group.km_at(days)
    return "—" if survival is None else f"{survival:.0%}"


@register.simple_tag
def physician_outcomes(user) -> list:
    """A physician's last 12 months per procedure type against the clinic's (start page)."""
    if Role.PHYSICIAN not in roles_of(user) or not user.has_perm("followup.view_outcomeepisode"):
        return []
    episodes = sites.appointments_in_scope(user, OutcomeEpisode.objects.all(), "site")
    return physician_comparison(physician=user, episodes=episodes, today=timezone.localdate())

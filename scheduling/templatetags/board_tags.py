from django import template

from scheduling import rules, selectors
from scheduling.models import Status

register = template.Library()


@register.filter
def can_move_to(appointment, status: str) -> bool:
    """Whether the lifecycle allows this move now, so the board offers only legal buttons."""
    return appointment.can_move_to(status)


@register.filter
def check_in_open(appointment) -> bool:
    """A check-in is offered on the appointment's day (site-local) only."""
    return appointment.can_move_to(Status.CHECKED_IN) and rules.is_appointment_day(appointment)


@register.filter
def check_in_undo_open(appointment) -> bool:
    return appointment.status == Status.CHECKED_IN and rules.is_appointment_day(appointment)


@register.filter
def may_undo_check_in(user) -> bool:
    return selectors.may_undo_check_in_as(user)


@register.filter
def may_set_status(user, status: str) -> bool:
    return selectors.may_set_status(user, status)


@register.filter
def person(user) -> str:
    return user.get_full_name() or user.get_username()

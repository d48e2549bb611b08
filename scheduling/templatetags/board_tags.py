from django import template

from scheduling import selectors

register = template.Library()


@register.filter
def can_move_to(appointment, status: str) -> bool:
    """Whether the lifecycle allows this move now, so the board offers only legal buttons."""
    return appointment.can_move_to(status)


@register.filter
def may_set_status(user, status: str) -> bool:
    return selectors.may_set_status(user, status)


@register.filter
def person(user) -> str:
    return user.get_full_name() or user.get_username()

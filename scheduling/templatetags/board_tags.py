from django import template

register = template.Library()


@register.filter
def person(user) -> str:
    return user.get_full_name() or user.get_username()

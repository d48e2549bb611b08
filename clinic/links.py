"""Links to a row's page, for pages that link many rows."""

import functools

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

# A key no row has, whose digits pk_url replaces by the row's.
STAND_IN_PK = 9876543210


@functools.cache
def _url_with_stand_in(name, urlconf, script_prefix) -> str:
    return reverse(name, urlconf=urlconf, args=[STAND_IN_PK])


def pk_url(name: str, pk) -> str:
    """reverse(name, args=[pk]) for a URL taking one integer key: `name` is reversed once
    per URL configuration and script prefix, not once per row (a list page or a day board
    links dozens of rows, and reverse() cost a twentieth of such a page)."""
    if not isinstance(pk, int):
        return reverse(name, args=[pk])  # refused as reverse() refuses it (an unsaved row)
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    template = _url_with_stand_in(name, urlconf, get_script_prefix())
    return template.replace(str(STAND_IN_PK), str(pk))

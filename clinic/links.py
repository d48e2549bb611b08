"""Links to a row's page, for pages and emails that link many rows."""

import functools
import re

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

# Keys no row has, which key_url replaces by the row's: one for an integer in the URL, one
# for a string (a signed token).
_STAND_INS = {int: 9876543210, str: "stand-in-key"}
# What reverse() writes unquoted; any other string is reversed as usual.
_URL_SAFE = re.compile(r"[A-Za-z0-9_:-]+")


@functools.cache
def _around_key(name, kind, urlconf, script_prefix) -> tuple[str, str] | None:
    """The URL of `name` before and after its key, or None when a `kind` key does not fit."""
    stand_in = str(_STAND_INS[kind])
    try:
        url = reverse(name, urlconf=urlconf, args=[stand_in])
    except NoReverseMatch:
        return None
    before, found, after = url.partition(stand_in)
    return (before, after) if found else None


def key_url(name: str, key) -> str:
    """reverse(name, args=[key]) for a URL taking one key (a row's id, or a signed token):
    `name` is reversed once per URL configuration and script prefix, not once per row (a
    list page or a day board links dozens of rows, and reverse() cost a twentieth of such a
    page; a dispatcher writes thousands of links)."""
    if type(key) is int and key >= 0:
        kind = int
    elif isinstance(key, str) and _URL_SAFE.fullmatch(key):
        kind = str
    else:
        return reverse(name, args=[key])  # refused as reverse() refuses it (an unsaved row)
    around = _around_key(name, kind, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
    if around is None:
        return reverse(name, args=[key])
    return f"{around[0]}{key}{around[1]}"


def page_url(name: str) -> str:
    """reverse(name) for a URL without arguments, reversed once per URL configuration and
    script prefix: every page's menu links a dozen pages. The clinic's URLs do not depend on
    the language (no i18n_patterns); with translated URLs the key would need it too."""
    return _page_url(name, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())


@functools.lru_cache(maxsize=512)
def _page_url(name, urlconf, script_prefix) -> str:
    return reverse(name, urlconf=urlconf)

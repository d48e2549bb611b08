"""`{% page_url "name" %}` and `{% asset "path" %}`: {% url %} (without arguments) and
{% static %} for the links and files of every page's frame (base.html and the menus),
each worked out once rather than on every request (clinic.links.page_url)."""

import functools

from django import template
from django.core.signals import setting_changed
from django.templatetags.static import static

from clinic.links import page_url as _page_url

register = template.Library()


@register.simple_tag
def page_url(name: str) -> str:
    return _page_url(name)


@register.simple_tag
def asset(path: str) -> str:
    return _asset(path)


@functools.lru_cache(maxsize=512)
def _asset(path: str) -> str:
    return static(path)


def _forget(*, setting, **kwargs) -> None:
    """Tests may point the static files elsewhere (the manifest storage reads DEBUG too)."""
    if setting in ("STATIC_URL", "STATIC_ROOT", "STORAGES", "STATICFILES_DIRS", "DEBUG"):
        _asset.cache_clear()


setting_changed.connect(_forget)

"""The frame of every staff page (base.html and the areas' menus) links pages and files
with {% page_url %} and {% asset %}: what {% url %} and {% static %} write, worked out once."""

import pytest
from django.template import engines
from django.templatetags.static import static
from django.test import override_settings
from django.urls import reverse

from clinic.templatetags.links import asset, page_url

pytestmark = pytest.mark.django_db


def test_it_links_what_url_and_static_link():
    for name in ("home", "patient_list", "appointment_list", "admin:index", "logout"):
        assert page_url(name) == reverse(name)
    for path in ("clinic/app.css", "vendor/htmx-2.0.11/htmx.min.js"):
        assert asset(path) == static(path)


def test_it_follows_a_new_static_url_and_script_prefix():
    from django.urls import set_script_prefix

    with override_settings(STATIC_URL="/elsewhere/"):
        assert asset("clinic/app.css") == "/elsewhere/clinic/app.css"
    assert asset("clinic/app.css") == static("clinic/app.css")
    set_script_prefix("/clinic/")
    try:
        assert page_url("home") == "/clinic/" == reverse("home")
    finally:
        set_script_prefix("/")
    assert page_url("home") == "/"


def test_it_frames_a_page_with_the_menu_the_user_may_use(client, nurse):
    client.force_login(nurse)
    page = client.get(reverse("patient_list")).content.decode()
    for name in ("home", "patient_list", "appointment_list", "nursing_board", "logout"):
        assert f'href="{reverse(name)}"' in page or f'action="{reverse(name)}"' in page, name
    assert f'href="{static("clinic/app.css")}"' in page
    assert f'src="{static("vendor/htmx-2.0.11/htmx.min.js")}"' in page
    assert f'href="{reverse("audit_list")}"' not in page  # not a nurse's page


def test_it_renders_a_template_using_both_tags():
    template = engines["django"].from_string(
        "{% load links %}{% page_url 'home' %} {% asset 'x.css' %}"
    )
    assert template.render({}) == f"{reverse('home')} {static('x.css')}"

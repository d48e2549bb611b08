"""Issue 10: a superuser is a break-glass account. Its clinical acts need a reason, given on
the break-glass page; while that lasts it acts as a physician, a red banner shows on every
page and every act is audited with the reason."""

import datetime

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.accounts import services as account_services
from clinic.models import AuditEvent, BreakGlass
from clinic.nursing.models import ChecklistAnswer, Phase
from clinic.refusals import Refused
from clinic.roles import clinical_role_allows
from scheduling.models import Status
from scheduling.selectors import may_set_status
from tests.factories import PASSWORD, answer_items, ready_to_start

REASON = "Night shift: no physician reachable, patient bleeding"


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


def _fresh(user):
    """The user as the next request loads it (nothing cached on the object)."""
    return User.objects.get(pk=user.pk)


def _start(client, user, reason=REASON, next_url=""):
    client.force_login(user)
    return client.post(reverse("break_glass"), {"reason": reason, "next": next_url})


def test_it_refuses_a_superusers_clinical_page_act_with_a_link_to_break_glass(
    client, appointment, nurse, physician, superuser
):
    ready_to_start(appointment, nurse, physician)
    client.force_login(superuser)
    response = client.post(reverse("nursing_start", args=[appointment.pk]))
    assert response.status_code == 403
    body = response.content.decode()
    assert "break-glass" in body.lower()
    assert reverse("break_glass") in body
    appointment.refresh_from_db()
    assert appointment.status == Status.CHECKED_IN


def test_it_refuses_a_superusers_clinical_api_act_with_the_reason(appointment, superuser):
    api = APIClient()
    api.force_authenticate(superuser)
    response = api.post(
        reverse("api_nursing_checklist", args=[appointment.pk]),
        {"answers": [{"item": "consent", "value": "yes"}]},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["reasons"][0]["code"] == "break_glass_required"
    assert "break-glass" in response.json()["detail"].lower()
    assert not ChecklistAnswer.objects.filter(appointment=appointment).exists()


def test_it_asks_for_a_reason(client, superuser):
    response = _start(client, superuser, reason="   ")
    assert response.status_code == 200
    assert "reason" in response.content.decode().lower()
    assert not BreakGlass.objects.exists()


def test_it_lets_a_superuser_act_as_a_physician_with_a_reason(
    client, appointment, nurse, physician, superuser, settings
):
    settings.BREAK_GLASS_MINUTES = 30
    url = reverse("nursing_start", args=[appointment.pk])
    response = _start(client, superuser, next_url=url)
    assert response.status_code == 302 and response.url == url
    row = BreakGlass.objects.get()
    assert row.user == superuser and row.reason == REASON
    assert row.ends_at - row.started_at == datetime.timedelta(minutes=30)
    started = AuditEvent.objects.get(action=AuditEvent.Action.BREAK_GLASS)
    assert REASON in started.detail and started.user == superuser

    user = _fresh(superuser)
    assert clinical_role_allows(user, "nursing.add_checklistanswer")
    assert clinical_role_allows(user, "nursing.override_hard_stop")
    assert may_set_status(user, Status.IN_PROCEDURE)

    ready_to_start(appointment, nurse, physician)
    response = client.post(url)
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Status.IN_PROCEDURE


def test_it_audits_every_act_with_the_reason(client, appointment, superuser):
    _start(client, superuser)
    before = AuditEvent.objects.count()
    answer_items(appointment, _fresh(superuser), [Phase.PRE_PROCEDURE])
    assert ChecklistAnswer.objects.filter(appointment=appointment, signed_by=superuser).exists()
    rows = AuditEvent.objects.order_by("pk")[before:]
    assert rows
    for row in rows:
        assert row.break_glass is not None and row.break_glass.reason == REASON
        assert REASON[:20] in row.detail

    # A page request is recorded too, with the reason.
    client.get(reverse("nursing_record", args=[appointment.pk]))
    request_row = AuditEvent.objects.filter(detail__contains="GET /").latest("pk")
    assert request_row.break_glass.reason == REASON


def test_it_audits_the_api_acts_with_the_reason(client, appointment, superuser):
    _start(client, superuser)
    before = AuditEvent.objects.count()
    api = APIClient()
    api.force_authenticate(_fresh(superuser))
    response = api.post(
        reverse("api_nursing_checklist", args=[appointment.pk]),
        {"answers": [{"item": "consent", "value": "yes"}]},
        format="json",
    )
    assert response.status_code < 300, response.content
    rows = AuditEvent.objects.order_by("pk")[before:]
    assert len(rows) >= 2  # the service's row for the answer, the request's row
    assert all(row.break_glass.reason == REASON for row in rows)


def test_it_shows_the_banner_on_every_page_while_active(client, superuser, physician):
    _start(client, superuser)
    row = BreakGlass.objects.get()
    until = timezone.localtime(row.ends_at).strftime("%H:%M")
    for name in ("home", "patient_list", "account_security", "admin:index"):
        body = client.get(reverse(name)).content.decode()
        assert "Break-glass access" in body and REASON in body, name
        assert f"until {until}" in body and "every action is recorded" in body, name
    client.force_login(physician)
    assert "break-glass-banner" not in client.get(reverse("home")).content.decode()


def test_it_expires_after_the_duration(client, appointment, superuser, monkeypatch, settings):
    settings.BREAK_GLASS_MINUTES = 30
    _start(client, superuser)
    assert clinical_role_allows(_fresh(superuser), "nursing.add_checklistanswer")
    later = timezone.now() + datetime.timedelta(minutes=31)
    monkeypatch.setattr(timezone, "now", lambda: later)
    user = _fresh(superuser)
    assert not clinical_role_allows(user, "nursing.add_checklistanswer")
    body = client.get(reverse("home")).content.decode()
    assert "break-glass-banner" not in body


def test_it_ends_break_glass_on_request(client, superuser):
    _start(client, superuser)
    response = client.post(reverse("break_glass_end"))
    assert response.status_code == 302
    assert not clinical_role_allows(_fresh(superuser), "nursing.add_checklistanswer")
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.BREAK_GLASS, detail__startswith="ended"
    ).exists()


# `db` is named so pytest-django runs this with the database tests, before any transactional
# test empties the database (it cannot see the fixtures asked for by name).
@pytest.mark.parametrize("persona", ["admin_user", "manager", "physician", "nurse", "front_desk"])
def test_it_lets_no_one_but_a_superuser_start_break_glass(db, client, request, persona):
    user = request.getfixturevalue(persona)
    assert _start(client, user).status_code == 403
    assert client.get(reverse("break_glass")).status_code == 403
    with pytest.raises(Refused):
        account_services.break_glass_start(user=user, reason=REASON)
    assert not BreakGlass.objects.exists()
    assert not clinical_role_allows(_fresh(user), "nursing.override_hard_stop") or (
        persona == "physician"
    )


def test_it_costs_a_superuser_one_query_per_request_at_most(superuser, django_assert_num_queries):
    user = _fresh(superuser)
    with django_assert_num_queries(2):  # the roles, then the break-glass row
        for _ in range(5):
            clinical_role_allows(user, "nursing.add_checklistanswer")

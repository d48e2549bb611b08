"""`make run` as a new user meets it: links that follow the port it serves on, emails kept
in an outbox under var/ and shown on a staff page, and logs a person can read."""

import logging
import re

import pytest
from django.urls import reverse

from clinic.mail import BACKEND as OUTBOX
from clinic.mail import OutboxBackend, outbox_messages
from followup.emails import invitation_message, oncall_message
from followup.models import Invitation
from followup.services import reminder_schedule
from followup.tasks import send_invitations
from scheduling.calendars import calendar_feed_create, physician_feed_ics
from tests.factories import AlertFactory, AppointmentFactory, InvitationFactory, local
from tests.test_settings import run_manage

URL = re.compile(rb"https?://[^\s<>\"')\]]+")


@pytest.fixture(scope="module")
def make_run_site_url():
    """SITE_URL as `PORT=18800 make run` sets it: read from the settings in a fresh process."""
    code = "from django.conf import settings; print(settings.SITE_URL, settings.EMAIL_BACKEND)"
    result = run_manage("shell", "-c", code, PORT="18800", DJANGO_DEBUG="true")
    site_url, backend = result.stdout.strip().splitlines()[-1].split()
    assert backend == OUTBOX, result.stderr
    return site_url


@pytest.fixture
def appointment(calendar, patient):
    return AppointmentFactory(
        calendar=calendar, patient=patient, starts_at=local(calendar["monday"], 9, 0)
    )


def links(raw: bytes) -> list[str]:
    # iCalendar folds long lines at 75 octets: unfold before looking for links.
    return [url.decode() for url in URL.findall(raw.replace(b"\r\n ", b""))]


def email_links(message) -> list[str]:
    parts = [message.body.encode()]
    parts += [content.encode() for content, _type in getattr(message, "alternatives", [])]
    parts += [
        content if isinstance(content, bytes) else content.encode()
        for _name, content, _type in message.attachments
    ]
    parts += [value.encode() for value in message.extra_headers.values()]
    return [url for part in parts for url in links(part)]


def test_it_uses_make_runs_port_in_every_link_of_emails_feeds_and_ics(
    settings, client, make_run_site_url, appointment, physician
):
    assert make_run_site_url == "http://127.0.0.1:18800"
    settings.SITE_URL = make_run_site_url
    reminder = Invitation.objects.get(pk=reminder_schedule(appointment=appointment).pk)
    survey = InvitationFactory(appointment=appointment)
    found = {
        "reminder": email_links(invitation_message(reminder)),
        "survey": email_links(invitation_message(survey)),
        "on-call": email_links(oncall_message([AlertFactory()], escalation=False)),
        "feed": links(physician_feed_ics(physician)),
    }
    assert any(name.endswith(".ics") for name, *_ in invitation_message(reminder).attachments)
    assert all(found.values()), found  # each of them carries links
    for where, urls in found.items():
        for url in urls:
            assert url.startswith(make_run_site_url + "/"), f"{where}: {url}"

    calendar_feed_create(physician=physician)
    client.force_login(physician)
    page = client.get(reverse("calendar_feed_settings")).content
    assert f"{make_run_site_url}/calendar/".encode() in page


def test_it_keeps_an_email_the_worker_sent_in_the_outbox_and_lists_it(
    settings, tmp_path, client, appointment, physician
):
    settings.DEBUG = True
    settings.EMAIL_BACKEND = OUTBOX
    settings.EMAIL_OUTBOX_DIR = tmp_path / "outbox"
    reminder = reminder_schedule(appointment=appointment)
    Invitation.objects.filter(pk=reminder.pk).update(status=Invitation.Status.QUEUED)

    assert send_invitations.apply(args=[[reminder.pk]]).get() == {"sent": 1}

    (message,) = outbox_messages()
    assert message.to == appointment.patient.email
    assert any(link.startswith(settings.SITE_URL + "/r/") for link in message.links)
    assert message.attachments == ["appointment.ics"]
    client.force_login(physician)
    page = client.get(reverse("outbox_list"))
    assert page.status_code == 200
    assert message.subject in page.content.decode()
    assert message.links[0] in page.content.decode()
    detail = client.get(reverse("outbox_detail", args=[message.name]))
    assert message.links[0] in detail.content.decode()


def test_it_hides_the_outbox_outside_debug_mode_and_from_anonymous_users(
    settings, client, physician
):
    settings.DEBUG = True
    settings.EMAIL_BACKEND = OUTBOX
    assert client.get(reverse("outbox_list")).status_code == 302  # to the login page
    client.force_login(physician)
    settings.DEBUG = False
    assert client.get(reverse("outbox_list")).status_code == 404
    settings.DEBUG = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert client.get(reverse("outbox_list")).status_code == 404


def test_it_reads_only_files_it_wrote(settings, tmp_path, client, physician):
    settings.DEBUG = True
    settings.EMAIL_BACKEND = OUTBOX
    settings.EMAIL_OUTBOX_DIR = tmp_path
    (tmp_path.parent / "secret.eml").write_text("Subject: no\n\nno")
    client.force_login(physician)
    for name in ["..%2Fsecret.eml", "secret.eml", "20261130T000000-000000-1-1.eml"]:
        assert client.get(f"/outbox/{name}/").status_code == 404


def test_it_refuses_the_outbox_in_production():
    from tests.test_settings import PRODUCTION_ENV

    result = run_manage("check", **PRODUCTION_ENV, EMAIL_URL="outbox://")
    assert result.returncode != 0
    assert "debug only" in result.stderr


def test_it_logs_a_403_as_one_line_without_a_traceback(client, nurse, caplog):
    client.force_login(nurse)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(reverse("audit_list")).status_code == 403
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == "Forbidden (Permission denied): /audit/"
    assert record.exc_info is None


def test_it_writes_each_message_whole_with_its_own_name(settings, tmp_path):
    from django.core.mail import EmailMessage

    settings.EMAIL_OUTBOX_DIR = tmp_path
    sent = OutboxBackend().send_messages(
        [EmailMessage("One", "http://a.example/1", to=["a@example.org"]) for _ in range(3)]
    )
    assert sent == 3
    assert len({path.name for path in tmp_path.iterdir()}) == 3
    assert not list(tmp_path.glob(".*.part"))

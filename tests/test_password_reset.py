"""Issue 12: password reset by email is throttled per address and never recovers a
superuser (a break-glass account is recovered on the server, not by whoever reads its mail)."""

from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD


def test_it_mails_a_reset_link_to_a_staff_member(client, nurse):
    nurse.email = "nurse@example.org"
    nurse.save()
    response = client.post(reverse("password_reset"), {"email": "nurse@example.org"})
    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [["nurse@example.org"]]


def test_it_never_mails_a_reset_link_for_a_superuser(client, db):
    User.objects.create_superuser("root", "root@example.org", PASSWORD)
    response = client.post(reverse("password_reset"), {"email": "root@example.org"})
    # The same answer as for any address, so nobody learns which accounts exist.
    assert response.status_code == 302
    assert mail.outbox == []


def test_it_throttles_reset_requests_from_one_address(client, db, settings):
    settings.PASSWORD_RESET_LIMIT = 3
    for _ in range(3):
        assert client.post(reverse("password_reset"), {"email": "x@example.org"}).status_code == 302
    response = client.post(reverse("password_reset"), {"email": "x@example.org"})
    assert response.status_code == 429
    assert "too many" in response.content.decode().lower()

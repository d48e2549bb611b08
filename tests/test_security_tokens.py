"""API tokens and calendar feeds live and die with the credentials of their owner."""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.models import AuditEvent, StaffProfile
from clinic.roles import Role, group_name
from scheduling.models import CalendarFeed
from tests.factories import PASSWORD, StaffFactory

PATIENTS = "/api/v1/patients/"


def fetch_token(client, user) -> str:
    response = client.post(reverse("api_token"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()["token"]


def api_as(token) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


@pytest.fixture
def nurse_token(client, nurse):
    token = fetch_token(client, nurse)
    assert api_as(token).get(PATIENTS).status_code == 200
    return token


# --- API tokens ------------------------------------------------------------------------------


def test_it_keeps_only_a_hash_of_the_token_and_says_when_it_expires(client, nurse, settings):
    response = client.post(
        reverse("api_token"), {"username": nurse.username, "password": PASSWORD}
    ).json()
    row = AuthToken.objects.get(user=nurse)
    assert response["token"] not in {row.digest, row.token_key}
    assert not AuthToken.objects.filter(digest=response["token"]).exists()
    expected = timezone.now() + datetime.timedelta(days=settings.API_TOKEN_DAYS)
    assert abs(row.expiry - expected) < datetime.timedelta(minutes=1)
    # The same instant, whatever the zone it is written in (the clinic's, a day ahead of UTC
    # just after midnight).
    assert datetime.datetime.fromisoformat(response["expiry"]) == row.expiry
    assert AuditEvent.objects.filter(action="create", user=nurse, detail__startswith="API token")


def test_it_ends_the_token_when_the_password_changes(client, nurse, nurse_token):
    client.force_login(nurse)
    new = "another long passphrase"
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert api_as(nurse_token).get(PATIENTS).status_code == 401


def test_it_ends_the_token_when_a_role_is_removed(nurse, nurse_token):
    nurse.groups.remove(Group.objects.get(name=group_name(Role.NURSE)))
    assert api_as(nurse_token).get(PATIENTS).status_code == 401


def test_it_ends_the_token_when_the_role_group_drops_the_user(nurse, nurse_token):
    Group.objects.get(name=group_name(Role.NURSE)).user_set.clear()
    assert api_as(nurse_token).get(PATIENTS).status_code == 401


def test_it_ends_the_token_when_the_account_is_deactivated(nurse, nurse_token):
    nurse.is_active = False
    nurse.save()
    assert not AuthToken.objects.filter(user=nurse).exists()
    assert api_as(nurse_token).get(PATIENTS).status_code == 401


def test_it_ends_a_revoked_token(client, nurse, nurse_token):
    client.force_login(nurse)
    row = AuthToken.objects.get(user=nurse)
    client.post(reverse("api_token_list"), {"action": "revoke", "token": row.digest})
    assert api_as(nurse_token).get(PATIENTS).status_code == 401
    assert AuditEvent.objects.filter(action="delete", user=nurse, detail__contains="revoked")


def test_it_ends_the_token_a_client_logs_out_with(nurse, nurse_token):
    api = api_as(nurse_token)
    assert api.post(reverse("api_token_logout")).status_code == 204
    assert api.get(PATIENTS).status_code == 401


def test_it_ends_an_expired_token(nurse, nurse_token):
    AuthToken.objects.filter(user=nurse).update(expiry=timezone.now() - datetime.timedelta(1))
    assert api_as(nurse_token).get(PATIENTS).status_code == 401


def test_it_does_not_end_a_token_at_a_hash_upgrade_or_an_unrelated_save(nurse, nurse_token):
    nurse.first_name = "Nanna"
    nurse.save()
    nurse.groups.add(Group.objects.get(name=group_name(Role.FRONT_DESK)))
    assert api_as(nurse_token).get(PATIENTS).status_code == 200


def test_it_lets_owners_create_and_revoke_their_tokens_on_a_page(client, nurse, front_desk):
    client.force_login(nurse)
    response = client.post(reverse("api_token_list"), {"action": "create", "days": "7"})
    key = response.context["new_key"]
    assert key in response.content.decode()
    assert api_as(key).get(PATIENTS).status_code == 200
    row = AuthToken.objects.get(user=nurse)
    assert row.expiry.date() == (timezone.now() + datetime.timedelta(days=7)).date()
    # Shown once: the list afterwards has no key.
    assert key not in client.get(reverse("api_token_list")).content.decode()
    # Someone else's token is neither listed nor revocable.
    other, _ = AuthToken.objects.create(user=front_desk)
    client.force_login(nurse)
    assert other.token_key[:8] not in client.get(reverse("api_token_list")).content.decode()
    forbidden = client.post(reverse("api_token_list"), {"action": "revoke", "token": other.digest})
    assert forbidden.status_code == 403
    assert AuthToken.objects.filter(pk=other.pk).exists()


def test_it_lets_an_admin_see_and_revoke_everyones_tokens(client, admin_user, nurse, nurse_token):
    client.force_login(admin_user)
    row = AuthToken.objects.get(user=nurse)
    page = client.get(reverse("api_token_list")).content.decode()
    assert row.token_key[:8] in page and nurse.username in page
    client.post(reverse("api_token_list"), {"action": "revoke", "token": row.digest})
    assert api_as(nurse_token).get(PATIENTS).status_code == 401


def test_it_throttles_the_token_endpoint_per_address(client, db):
    # Different usernames: below the lockout of an account or of the address.
    statuses = [
        client.post(reverse("api_token"), {"username": f"u{n}", "password": "x"}).status_code
        for n in range(21)
    ]
    assert statuses == [400] * 20 + [429]


def test_it_rate_limits_the_patients_posts_per_address(client, db, settings):
    settings.PATIENT_POST_LIMIT = 2
    url = reverse("appointment_confirm", args=["not-a-token"])
    statuses = [client.post(url).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
    assert client.get(url).status_code == 400  # reading a link is not limited
    other = client.post(url, REMOTE_ADDR="10.9.8.7")
    assert other.status_code == 400


# --- Calendar feed ---------------------------------------------------------------------------


@pytest.fixture
def feed(book, physician):
    book()
    return CalendarFeed.objects.create(physician=physician)


def feed_status(client, feed) -> int:
    return client.get(reverse("physician_feed", args=[feed.token])).status_code


def test_it_serves_the_feed_with_the_least_detail_and_audits_each_fetch(client, feed, physician):
    response = client.get(reverse("physician_feed", args=[feed.token]))
    ics = response.content.decode()
    event = Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Procedure · Fluoro room"
    assert str(event["LOCATION"]) == "Test Spine Centre, Fluoro room"
    assert "/appointments/" in str(event["URL"])
    for hidden in ("Epidural", "transforaminal", "L4-L5", "Left", "K.J.", "Karen", "Jensen"):
        assert hidden not in ics, hidden
    event = AuditEvent.objects.get(action="export", detail="calendar feed fetched")
    assert (event.user, event.ip_address) == (physician, "127.0.0.1")


def test_it_refuses_the_feed_when_the_physician_loses_the_role(client, feed, physician):
    physician.groups.remove(Group.objects.get(name=group_name(Role.PHYSICIAN)))
    assert feed_status(client, feed) == 404


def test_it_refuses_the_feed_of_a_physician_without_the_role_even_if_it_exists(client, feed):
    # A role removed around the signals (raw SQL, a restore): the fetch checks it too.
    feed.physician.groups.through.objects.filter(user=feed.physician).delete()
    assert feed_status(client, feed) == 404


def test_it_refuses_the_feed_of_an_inactive_physician(client, feed, physician):
    physician.is_active = False
    physician.save()
    assert feed_status(client, feed) == 404


def test_it_refuses_the_feed_after_a_password_change(client, feed, physician):
    physician.set_password("a brand new passphrase")
    physician.save()
    assert feed_status(client, feed) == 404


def test_it_refuses_a_demo_physicians_feed_outside_debug(client, feed, physician, settings):
    StaffProfile.objects.filter(user=physician).update(is_demo=True)
    settings.DEMO_LOGINS_ALLOWED = True
    assert feed_status(client, feed) == 200
    settings.DEMO_LOGINS_ALLOWED = False
    assert feed_status(client, feed) == 404


def test_it_refuses_a_rotated_or_expired_feed(client, feed, physician, settings):
    old = CalendarFeed(token=feed.token)
    client.force_login(physician)
    client.post(reverse("calendar_feed_settings"), {"action": "revoke"})
    client.logout()
    assert feed_status(client, old) == 404
    feed.refresh_from_db()
    assert feed_status(client, feed) == 200
    CalendarFeed.objects.filter(pk=feed.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=settings.CALENDAR_FEED_DAYS + 1)
    )
    assert feed_status(client, feed) == 404


def test_it_keeps_other_physicians_feeds(client, feed, db):
    other = StaffFactory(username="dr.other", role=Role.PHYSICIAN)
    CalendarFeed.objects.create(physician=other)
    other.is_active = False
    other.save()
    assert feed_status(client, feed) == 200

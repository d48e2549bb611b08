"""The session store (clinic.sessions): Django's database sessions, read by one query
written out once; what it reads is what Django's own store reads."""

import datetime

import pytest
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from clinic.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_it_reads_a_session_as_django_does(django_assert_num_queries):
    saved = SessionStore()
    saved["_auth_user_id"] = "7"
    saved["cart"] = {"ø": [1, 2]}
    saved.save()
    with django_assert_num_queries(1):
        ours = SessionStore(saved.session_key).load()
    assert (
        ours
        == DjangoStore(saved.session_key).load()
        == {"_auth_user_id": "7", "cart": {"ø": [1, 2]}}
    )


def test_it_reads_nothing_from_an_expired_or_unknown_session():
    saved = SessionStore()
    saved["_auth_user_id"] = "7"
    saved.save()
    Session.objects.filter(pk=saved.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    for key in (saved.session_key, "no-such-session-key-000000000000"):
        store = SessionStore(key)
        assert store.load() == {} == DjangoStore(key).load()
        assert store.session_key is None  # a new session gets a new key, as with Django's


def test_it_signs_in_and_keeps_a_staff_member_signed_in(client, nurse):
    client.force_login(nurse)
    assert client.get("/").status_code == 200
    assert client.session["_auth_user_id"] == str(nurse.pk)


def test_it_leaves_reading_to_django_elsewhere_than_postgresql(monkeypatch):
    """SQLite (`make run`) reads sessions by Django's own store."""
    from django.db import connection

    saved = SessionStore()
    saved["_auth_user_id"] = "7"
    saved.save()
    monkeypatch.setattr(connection, "vendor", "sqlite")
    assert SessionStore(saved.session_key).load() == {"_auth_user_id": "7"}
    assert SessionStore("no-such-session-key-000000000000").load() == {}

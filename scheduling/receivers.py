"""The calendar feed follows the life of its physician's credentials (clinic.accounts)."""

from clinic.accounts.signals import credentials_revoked
from scheduling.calendars import calendar_feed_delete


def on_credentials_revoked(sender, user, reason, **kwargs):
    calendar_feed_delete(physician=user)


def connect():
    credentials_revoked.connect(on_credentials_revoked, dispatch_uid="scheduling-calendar-feed")

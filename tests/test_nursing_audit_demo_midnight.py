"""The demo board seeded late in the evening stays on today's board: nothing tomorrow."""

import datetime
import io
import zoneinfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from clinic.models import Site
from clinic.nursing.demo import BOARD_NOTE
from clinic.nursing.selectors import recovery_board
from scheduling.models import Appointment


@pytest.fixture
def late_evening(monkeypatch):
    """The clock at 23:50 in Copenhagen today, still ticking."""
    real_now = timezone.now
    # The demo sites are in Copenhagen; they do not exist before the seed.
    zone = zoneinfo.ZoneInfo("Europe/Copenhagen")
    local = timezone.localtime(real_now(), zone)
    target = local.replace(hour=23, minute=50, second=0, microsecond=0)
    offset = target - local
    monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)
    return target


def test_it_seeds_the_board_within_the_day_late_in_the_evening(settings, db, late_evening):
    settings.DEMO_LOGINS_ALLOWED = True
    call_command("seed_demo", "--patients", "120", stdout=io.StringIO(), stderr=io.StringIO())

    for site in Site.objects.filter(active=True):
        day = timezone.localtime(late_evening, site.zone).date()
        tomorrow = datetime.datetime.combine(
            day + datetime.timedelta(days=1), datetime.time.min, site.zone
        )
        assert not Appointment.objects.filter(
            site=site, notes=BOARD_NOTE, starts_at__gte=tomorrow
        ).exists(), site
        sections = {s["key"]: s["rows"] for s in recovery_board(site=site, day=day)}
        for key in ("waiting", "checks", "procedure", "recovery", "discharged"):
            assert sections[key], f"{site}: nobody in {key}"

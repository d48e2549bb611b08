"""Queries compiled once (clinic.compiled): the same rows as the ORM's own, SQL built once."""

import copy
import datetime
import threading
from unittest import mock

import pytest
from django.db import connection, connections
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.compiled import Bound, CompiledQuery, compiled_queryset
from clinic.filters import PROCEDURE_OPTIONS
from clinic.models import ProcedureType, Site
from scheduling.models import Appointment
from scheduling.selectors_board import SHOWN_ON_BOARDS, local_day_bounds
from tests.factories import ProcedureTypeFactory

pytestmark = pytest.mark.django_db

STARTS_AT = Appointment._meta.get_field("starts_at")


def days_appointments():
    return CompiledQuery(
        lambda: (
            Appointment.objects.select_related("patient", "procedure_type", "physician")
            .only(*SHOWN_ON_BOARDS)
            .filter(
                site=Bound("site", Site._meta.pk),
                starts_at__gte=Bound("starts", STARTS_AT),
                starts_at__lt=Bound("ends", STARTS_AT),
            )
            .order_by("starts_at", "pk")
        )
    )


def orm_days_appointments(site, starts, ends):
    return list(
        Appointment.objects.select_related("patient", "procedure_type", "physician")
        .only(*SHOWN_ON_BOARDS)
        .filter(site=site, starts_at__gte=starts, starts_at__lt=ends)
        .order_by("starts_at", "pk")
    )


def compiles(query, **values) -> int:
    """How many times Django compiled SQL while `query` ran with `values`."""
    with mock.patch.object(
        SQLCompiler, "as_sql", autospec=True, side_effect=SQLCompiler.as_sql
    ) as as_sql:
        query(**values)
    return as_sql.call_count


def test_it_reads_the_rows_the_orm_reads_for_each_value(book, calendar, patient):
    monday = calendar["monday"]
    first = book(9, 0)
    second = book(11, 0)
    book(9, 0, day=monday + datetime.timedelta(days=1))
    query = days_appointments()
    site = calendar["site"]
    for day in (monday, monday + datetime.timedelta(days=1), monday + datetime.timedelta(days=2)):
        starts, ends = local_day_bounds(day, site.zone)
        compiled = query(site=site.pk, starts=starts, ends=ends)
        expected = orm_days_appointments(site, starts, ends)
        assert [a.pk for a in compiled] == [a.pk for a in expected]
        for got, wanted in zip(compiled, expected, strict=True):
            assert got.get_deferred_fields() == wanted.get_deferred_fields()
            assert got.starts_at == wanted.starts_at
    starts, ends = local_day_bounds(monday, site.zone)
    assert [a.pk for a in query(site=site.pk, starts=starts, ends=ends)] == [first.pk, second.pk]


def test_it_brings_the_related_rows_it_selects(book, calendar, patient):
    book(9, 0)
    site = calendar["site"]
    starts, ends = local_day_bounds(calendar["monday"], site.zone)
    (appointment,) = days_appointments()(site=site.pk, starts=starts, ends=ends)
    with CaptureQueriesContext(connection) as queries:
        assert appointment.patient.last_name == patient.last_name
        assert appointment.procedure_type.name == calendar["tfesi"].name
        assert appointment.physician.username == calendar["physician"].username
    assert len(queries) == 0


def test_it_compiles_the_sql_once_and_reads_anew_each_time(book, calendar):
    site = calendar["site"]
    starts, ends = local_day_bounds(calendar["monday"], site.zone)
    query = days_appointments()
    assert compiles(query, site=site.pk, starts=starts, ends=ends) == 1
    assert query(site=site.pk, starts=starts, ends=ends) == []
    book(9, 0)
    with CaptureQueriesContext(connection) as queries:
        assert compiles(query, site=site.pk, starts=starts, ends=ends) == 0
    assert len(queries) == 1
    assert len(query(site=site.pk, starts=starts, ends=ends)) == 1


def test_it_refuses_values_it_was_not_compiled_for(calendar):
    query = days_appointments()
    now = timezone.now()
    with pytest.raises(TypeError, match="starts"):
        query(site=calendar["site"].pk, ends=now)
    with pytest.raises(TypeError, match="room"):
        query(site=calendar["site"].pk, starts=now, ends=now, room=1)


def test_it_runs_on_each_threads_own_connection(calendar):
    """A compiler kept from one thread must not hand another thread its connection."""
    query = days_appointments()
    site = calendar["site"]
    starts, ends = local_day_bounds(calendar["monday"], site.zone)
    query(site=site.pk, starts=starts, ends=ends)
    answers, errors = [], []

    def elsewhere():
        try:
            answers.append(query(site=site.pk, starts=starts, ends=ends))
        except Exception as exc:  # noqa: BLE001 - reported to the test's own thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert errors == []
    assert answers == [[]]  # that thread's own transaction: the test's rows are not there


def test_it_refuses_a_queryset_with_prefetches():
    query = CompiledQuery(lambda: Site.objects.prefetch_related("rooms"))
    with pytest.raises(ValueError, match="prefetch"):
        query()


def test_it_keeps_the_compiled_sql_only_for_the_unchanged_queryset():
    options = compiled_queryset(ProcedureType.objects.only("name").order_by("name"))
    assert options.all().compiled is options.compiled
    assert copy.deepcopy(options).compiled is options.compiled  # django-filter's copies
    assert options.filter(name="x").compiled is None
    assert options.order_by("-name").compiled is None


def test_it_offers_the_options_the_orm_reads_including_ones_added_later():
    expected = list(ProcedureType.objects.only("name").order_by("name"))
    assert [p.pk for p in PROCEDURE_OPTIONS.all()] == [p.pk for p in expected]
    added = ProcedureTypeFactory(name="Zz new procedure")
    options = [p.pk for p in PROCEDURE_OPTIONS.all()]
    assert options[-1] == added.pk
    assert compiles(lambda: list(PROCEDURE_OPTIONS.all())) == 0

"""Queries of a fixed shape whose SQL is compiled once per process.

Turning a QuerySet into SQL costs Django about a millisecond for a select_related query
(the day board's appointments: 4,500 Python calls), more than PostgreSQL takes to run it.
A page asking the same question on every request, only about another site or day, pays
that each time. `CompiledQuery` compiles the QuerySet once, with `Bound` placeholders
where the values go, and afterwards only binds the new values into the same SQL; rows
become model instances exactly as the QuerySet's own iteration makes them (Django's
ModelIterable, with the compiler kept from the first time).

Only for hot reads whose shape never changes with the values: a filter that is there or not
depending on the request is a different shape, and so a different CompiledQuery (or the
plain ORM). Lookups that expand a value into SQL (`__in` a list) cannot take a Bound.
"""

import copy

from django.db import connections, router
from django.db.models import Expression
from django.db.models.query import ModelIterable, QuerySet


class _Slot:
    """Where a Bound value goes among a compiled query's parameters."""

    def __init__(self, name, output_field):
        self.name = name
        self.output_field = output_field


class Bound(Expression):
    """A value given when a CompiledQuery runs: `Bound("site", Site._meta.pk)`.

    `field` converts the value for the database as a lookup on that field would
    (`get_db_prep_value`); it is also the expression's output field."""

    def __init__(self, name: str, field):
        super().__init__(output_field=field)
        self.name = name

    def as_sql(self, compiler, connection):
        return "%s", [_Slot(self.name, self.output_field)]


class _Prepared:
    """What ModelIterable reads of a QuerySet, with the compiler of the prepared SQL."""

    _known_related_objects = {}

    def __init__(self, db, compiler):
        self.db = db
        self.query = self
        self.compiler = compiler

    def get_compiler(self, using=None):
        return self.compiler


class CompiledQuery:
    """`build()` returns the QuerySet, with Bound where values go; `query(name=value, …)`
    returns its model instances, as `list(queryset)` would with those values."""

    def __init__(self, build):
        self.build = build
        self.compiled = {}  # by database alias: (compiler, sql, parameters, Bound names)
        self.model = None

    def __deepcopy__(self, memo):
        # One per process: django-filter deep-copies its filters, and their querysets with
        # them, on every request.
        return self

    def _compile(self, using):
        queryset = self.build().using(using)
        if queryset._prefetch_related_lookups or queryset._iterable_class is not ModelIterable:
            raise ValueError("A CompiledQuery returns model instances, without prefetches.")
        compiler = queryset.query.get_compiler(using=using)
        sql, parameters = compiler.as_sql()
        names = {p.name for p in parameters if type(p) is _Slot}
        return compiler, sql, tuple(parameters), names

    def __call__(self, *, using=None, **values) -> list:
        """The rows for `values`, read from `using`, else from the database the routers
        choose for reading the model, as the QuerySet would (so no Bound is named "using")."""
        if using is None:
            if self.model is None:
                self.model = self.build().model
            using = router.db_for_read(self.model)
        if using not in self.compiled:
            self.compiled[using] = self._compile(using)
        compiler, sql, parameters, names = self.compiled[using]
        if values.keys() != names:
            raise TypeError(f"Give exactly the values {sorted(names)}, not {sorted(values)}.")
        connection = connections[using]
        bound = [
            parameter.output_field.get_db_prep_value(values[parameter.name], connection)
            if type(parameter) is _Slot
            else parameter
            for parameter in parameters
        ]
        # The compiler's state (columns, related models) is the same for every run; the
        # connection is this thread's, the SQL the prepared one with these values.
        run = copy.copy(compiler)
        run.connection = connection
        run.as_sql = lambda *args, **kwargs: (sql, bound)
        return list(ModelIterable(_Prepared(using, run)))


class CompiledQuerySet(QuerySet):
    """A QuerySet whose own rows, read as they are (all of them, unfiltered), come from SQL
    compiled once: the options of a list page's filters, read on every request.

    What keeps the compiled SQL is only `.all()`, the copy a form field makes of its
    queryset. Anything that changes the question (`filter()`, `order_by()`, `get()` when a
    choice is checked, a user's sites cut in) is a new QuerySet of Django's own making,
    compiled as usual."""

    compiled = None

    def all(self):
        clone = super().all()
        clone.compiled = self.compiled
        return clone

    def _fetch_all(self):
        if self._result_cache is None and self.compiled is not None:
            self._result_cache = self.compiled(using=self.db)
        super()._fetch_all()


def compiled_queryset(queryset: QuerySet) -> CompiledQuerySet:
    """`queryset`, its rows read by SQL compiled once per process (CompiledQuerySet)."""
    compiled = CompiledQuerySet(model=queryset.model, query=queryset.query.chain())
    compiled.compiled = CompiledQuery(lambda: queryset)
    return compiled

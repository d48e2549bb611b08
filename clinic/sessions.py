"""Sessions: Django's database sessions (SESSION_ENGINE), read by a query written out once.

Every request reads its session, and on PostgreSQL the ORM took longer to build that query
than the database to answer it. Elsewhere (SQLite under `make run`) Django reads it.
"""

import functools

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def load(self):
        """The session's data, or {} (and no key) when it is missing or expired, as
        Django's load() answers."""
        alias = router.db_for_read(self.model)
        if connections[alias].vendor != "postgresql":
            return super().load()
        with connections[alias].cursor() as cursor:
            cursor.execute(_load_sql(self.model), [self.session_key, timezone.now()])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        return self.decode(row[0])


@functools.cache
def _load_sql(model) -> str:
    return (
        f"SELECT session_data FROM {model._meta.db_table} "
        "WHERE session_key = %s AND expire_date > %s"
    )

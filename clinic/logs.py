"""Logging filters: a log a person reads at the terminal of `make run` or in production."""

import logging


class NoTracebackForClientErrors(logging.Filter):
    """A 403 or 404 is the application answering as designed: one line, not a traceback.

    Django's django.request logger attaches the PermissionDenied/Http404 traceback to its
    "Forbidden (Permission denied)" warning; server errors (5xx) keep theirs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if 400 <= getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True

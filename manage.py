#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    # A machine with no configuration at all is a developer's: manage.py (migrate, check,
    # shell) works there as under `make run`. Anything configured, and every server entry
    # point (clinic.wsgi, clinic.celery), stays in production mode unless told otherwise.
    if not any(os.environ.get(name) for name in ("DJANGO_SECRET_KEY", "ALLOWED_HOSTS")):
        os.environ.setdefault("DJANGO_DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

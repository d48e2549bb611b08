"""Test settings: the real services (PostgreSQL and Redis) unless the environment says otherwise."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/clinic")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 20)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
# Tests that run threads close their connections themselves; nothing is kept open.
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")

from clinic.settings import *  # noqa: E402,F403

# Hashing speed, not strength, matters in tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Serve static files from the finders (no collectstatic) for the browser tests.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Throttle and rate-limit counters in the process: each test starts from none (conftest
# clears them), and the xdist workers, which share one Redis database, do not count together.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

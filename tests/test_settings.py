"""Settings read from the environment: good values load, bad ones stop start-up clearly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from clinic import env

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "k8#Vq2!xZp7@Lm4$Rt9^Wn6&Yb3*Hc5(Jd1)Fg0_Se8+Ua2=Oi7",
    "ALLOWED_HOSTS": "clinic.example.org",
    "DATABASE_URL": "postgres://postgres:postgres@127.0.0.1:5432/clinic",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def run_manage(*args, **environ):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    clean.pop("ALLOWED_HOSTS", None)
    clean.pop("REDIS_URL", None)
    clean["DJANGO_SETTINGS_MODULE"] = "clinic.settings"
    clean["CLINIC_VAR_DIR"] = "/tmp/clinic-settings-test"
    # Development mode unless a test says otherwise (production is the default); None
    # unsets a variable.
    environment = {**clean, "DJANGO_DEBUG": "true", **environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={k: v for k, v in environment.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("raw", ["maybe", "2", "enabled"])
def test_it_rejects_a_boolean_that_is_not_true_or_false(monkeypatch, raw):
    monkeypatch.setenv("SOME_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG must be true or false"):
        env.env_bool("SOME_FLAG", False)


@pytest.mark.parametrize(("raw", "expected"), [("yes", True), ("0", False), ("TRUE", True)])
def test_it_reads_booleans(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env.env_bool("SOME_FLAG", not expected) is expected


def test_it_rejects_a_number_that_is_not_whole(monkeypatch):
    monkeypatch.setenv("SESSION_COOKIE_AGE", "12h")
    with pytest.raises(ImproperlyConfigured, match="must be a whole number"):
        env.env_int("SESSION_COOKIE_AGE", 60)


def test_it_rejects_a_number_below_the_minimum(monkeypatch):
    monkeypatch.setenv("SESSION_COOKIE_AGE", "5")
    with pytest.raises(ImproperlyConfigured, match="at least 60"):
        env.env_int("SESSION_COOKIE_AGE", 3600, minimum=60)


def test_it_rejects_an_unknown_time_zone(monkeypatch):
    monkeypatch.setenv("TIME_ZONE", "Europe/Aarhus")
    with pytest.raises(ImproperlyConfigured, match="IANA time zone"):
        env.env_time_zone("TIME_ZONE", "UTC")


def test_it_rejects_a_url_with_the_wrong_scheme(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://root@localhost/clinic")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL must start with one of"):
        env.env_url("DATABASE_URL", "sqlite://", schemes={"sqlite", "postgres"})


def test_it_rejects_a_malformed_email_address(monkeypatch):
    monkeypatch.setenv("CLINIC_ONCALL_EMAIL", "on call")
    with pytest.raises(ImproperlyConfigured, match="must be an email address"):
        env.env_email("CLINIC_ONCALL_EMAIL", "")


def test_it_splits_lists_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", " a.example , ,b.example")
    assert env.env_list("ALLOWED_HOSTS") == ["a.example", "b.example"]


def test_it_lets_manage_py_work_on_a_machine_with_no_configuration():
    result = run_manage("check", DJANGO_DEBUG=None)
    assert result.returncode == 0, result.stderr


def test_it_refuses_production_without_a_secret_key():
    result = run_manage("check", DJANGO_DEBUG="false", ALLOWED_HOSTS="clinic.example.org")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off" in result.stderr


def test_it_refuses_production_without_allowed_hosts():
    result = run_manage("check", DJANGO_DEBUG="false", DJANGO_SECRET_KEY="x" * 60)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must list" in result.stderr


def test_it_refuses_a_bad_email_url():
    result = run_manage("check", EMAIL_URL="ftp://mail.example.org")
    assert result.returncode != 0
    assert "EMAIL_URL must start with one of" in result.stderr


def test_it_starts_a_development_server_with_no_other_configuration():
    result = run_manage("check")
    assert result.returncode == 0, result.stderr


def test_it_is_in_production_mode_unless_told_otherwise():
    """The server's entry point (gunicorn loads clinic.wsgi) with nothing configured."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATA"))}
    environment.pop("ALLOWED_HOSTS", None)
    result = subprocess.run(
        [sys.executable, "-c", "import clinic.wsgi"],
        cwd=ROOT,
        env={**environment, "CLINIC_VAR_DIR": "/tmp/clinic-settings-test"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr
    assert "DJANGO_DEBUG=true" in result.stderr


def test_it_refuses_the_public_development_key_for_a_real_host_name():
    """The dev key is in the source: with it, anyone can forge a patient's survey link."""
    result = run_manage("check", DJANGO_DEBUG="true", ALLOWED_HOSTS="clinic.example.org")
    assert result.returncode != 0
    assert "development secret key" in result.stderr


def test_it_sets_debug_on_only_for_make_run():
    makefile = (ROOT / "Makefile").read_text()
    assert "run: export DJANGO_DEBUG ?= true" in makefile
    assert "DJANGO_DEBUG" not in makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]


def test_it_refuses_plain_text_smtp_to_another_host_in_production():
    environ = {**PRODUCTION_ENV, "EMAIL_URL": "smtp://mail.example.org:25"}
    result = run_manage("check", **environ)
    assert result.returncode != 0
    assert "would travel unencrypted" in result.stderr
    assert run_manage("check", **environ, EMAIL_ALLOW_PLAINTEXT="true").returncode == 0
    tls = {**environ, "EMAIL_URL": "smtp://mail.example.org:587?tls=1"}
    assert run_manage("check", **tls).returncode == 0
    local = {**environ, "EMAIL_URL": "smtp://127.0.0.1:25"}
    assert run_manage("check", **local).returncode == 0


def test_it_builds_patient_links_on_the_port_make_run_serves():
    code = "from django.conf import settings; print(settings.SITE_URL)"
    result = run_manage("shell", "-c", code, PORT="18800")
    assert result.stdout.strip().endswith("\nhttp://127.0.0.1:18800"), result.stderr
    result = run_manage("shell", "-c", code, PORT="18800", SITE_URL="https://clinic.example.org")
    assert result.stdout.strip().endswith("\nhttps://clinic.example.org"), result.stderr


def test_it_passes_the_deployment_checklist_in_production_mode():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_it_parses_an_smtp_email_url():
    code = (
        "from django.conf import settings as s;"
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER,"
        " s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_TLS)"
    )
    result = run_manage(
        "shell", "-c", code, EMAIL_URL="smtp://mailer:p%40ss@mail.example.org:587?tls=1"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-6:] == [
        "django.core.mail.backends.smtp.EmailBackend",
        "mail.example.org",
        "587",
        "mailer",
        "p@ss",
        "True",
    ]


def test_it_defaults_to_sqlite_with_immediate_transactions_and_a_filesystem_broker():
    code = (
        "from django.conf import settings as s;"
        "db = s.DATABASES['default'];"
        "print(db['ENGINE'], db['OPTIONS']['transaction_mode'], s.CELERY_BROKER_URL, s.TIME_ZONE)"
    )
    result = run_manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-4:] == [
        "django.db.backends.sqlite3",
        "IMMEDIATE",
        "filesystem://",
        "Europe/Copenhagen",
    ]


# --- Settings refuse bad values with a clear message ------------------------------------


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG must be true or false"),
        ({"DATABASE_URL": "mysql://root@localhost/clinic"}, "DATABASE_URL must start with"),
        ({"REDIS_URL": "amqp://localhost//"}, "REDIS_URL must start with"),
        ({"TIME_ZONE": "Europe/Aarhus"}, "TIME_ZONE must be an IANA time zone"),
        ({"SITE_URL": "clinic.example.org"}, "SITE_URL must start with"),
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL must be one of"),
        ({"DEFAULT_FROM_EMAIL": "clinic@"}, "DEFAULT_FROM_EMAIL must be an email address"),
        ({"EMAIL_URL": "smtp://mail.example.org:smtp"}, "EMAIL_URL has a bad port"),
        (
            {"EMAIL_URL": "smtp://a.example", "EMAIL_HOST": "b.example"},
            "Set EMAIL_URL or EMAIL_HOST, not both",
        ),
        ({"EMAIL_HOST": "mail.example.org", "EMAIL_PORT": "x"}, "EMAIL_PORT must be a whole"),
        ({"SESSION_IDLE_MINUTES": "0"}, "SESSION_IDLE_MINUTES must be at least 1"),
        ({"FOLLOWUP_REMINDER_LOCAL_TIME": "25:00"}, "FOLLOWUP_REMINDER_LOCAL_TIME must be"),
        ({"FOLLOWUP_DIARY_OFFSETS_MINUTES": "30,soon"}, "FOLLOWUP_DIARY_OFFSETS_MINUTES must"),
        (
            {"FOLLOWUP_STUCK_AFTER_MINUTES": "1", "FOLLOWUP_SEND_TIME_LIMIT": "120"},
            "FOLLOWUP_STUCK_AFTER_MINUTES must be longer",
        ),
    ],
)
def test_it_stops_start_up_on_a_bad_setting_with_its_name(environ, message):
    result = run_manage("check", **environ)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(
    "value", ["clinic@example.org", "Spine Clinic <clinic@example.org>", "<clinic@example.org>"]
)
def test_it_accepts_a_from_address_with_a_display_name(monkeypatch, value):
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", value)
    assert env.env_email("DEFAULT_FROM_EMAIL", "") == value


@pytest.mark.parametrize("value", ["on call", "@example.org", "Clinic clinic@example.org"])
def test_it_rejects_what_is_not_an_address(monkeypatch, value):
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", value)
    with pytest.raises(ImproperlyConfigured, match="must be an email address"):
        env.env_email("DEFAULT_FROM_EMAIL", "")


def test_it_configures_smtp_from_host_and_port_instead_of_a_url():
    code = (
        "from django.conf import settings as s;"
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER,"
        " s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_TLS, s.EMAIL_USE_SSL)"
    )
    result = run_manage(
        "shell",
        "-c",
        code,
        EMAIL_HOST="mail.example.org",
        EMAIL_PORT="587",
        EMAIL_HOST_USER="mailer",
        EMAIL_HOST_PASSWORD="p@ss",
        EMAIL_USE_TLS="true",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-7:] == [
        "django.core.mail.backends.smtp.EmailBackend",
        "mail.example.org",
        "587",
        "mailer",
        "p@ss",
        "True",
        "False",
    ]


SHOW_CONNECTIONS = (
    "from django.conf import settings; d = settings.DATABASES['default']; "
    "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [({}, "60 True"), ({"DATABASE_CONN_MAX_AGE": "0"}, "0 True")],
)
def test_it_keeps_database_connections_open_in_production(extra, expected):
    result = run_manage("shell", "-c", SHOW_CONNECTIONS, **PRODUCTION_ENV, **extra)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected

"""Static checks that docker-compose.yml and the Dockerfile match the code.

Pure file reads: no database, no Docker. They catch a compose file that names
a module, command, setting or volume that does not exist in the repository.
"""

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SETTINGS_FILE = ROOT / "clinic" / "settings.py"

EXPECTED_SERVICES = {"web", "worker", "beat", "postgres", "redis", "mailpit"}
DJANGO_SERVICES = ("web", "worker", "beat")
# Celery processes have no cheap readiness probe; every other service needs one.
NO_HEALTHCHECK_NEEDED = {"worker", "beat"}
# Built-in commands compose may run; anything else must be a command file here.
DJANGO_BUILTIN_COMMANDS = {
    "migrate",
    "collectstatic",
    "check",
    "createcachetable",
    "showmigrations",
    "shell",
    "runserver",
}
# Set by the image/compose for Django itself, not read by clinic/settings.py.
ENV_NOT_IN_SETTINGS = {"DJANGO_SETTINGS_MODULE"}


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def _as_text(command):
    """A compose command (string or list) as one string."""
    if command is None:
        return ""
    if isinstance(command, list):
        return " ".join(str(part) for part in command)
    return str(command)


def _all_commands(services):
    """(service name, command text) for every command and healthcheck."""
    for name, service in services.items():
        yield name, _as_text(service.get("command"))
        yield name, _as_text(service.get("entrypoint"))
        yield name, _as_text((service.get("healthcheck") or {}).get("test"))


def _environment(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return env


def _dockerfile_cmd():
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    cmds = [line[len("CMD") :].strip() for line in lines if line.startswith("CMD ")]
    assert cmds, "Dockerfile has no CMD"
    cmd = cmds[-1]  # Only the last CMD counts.
    return " ".join(json.loads(cmd)) if cmd.startswith("[") else cmd


def _module_exists(dotted):
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_it_defines_exactly_the_expected_services(services):
    assert set(services) == EXPECTED_SERVICES


def test_it_pins_postgres_16_and_redis_7(services):
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")


def test_it_gives_every_non_celery_service_a_healthcheck(services):
    missing = [
        name
        for name, service in services.items()
        if name not in NO_HEALTHCHECK_NEEDED and not (service.get("healthcheck") or {}).get("test")
    ]
    assert not missing, f"services without a healthcheck: {missing}"


def test_it_checks_web_health_through_healthz_without_curl(services):
    test = _as_text(services["web"]["healthcheck"]["test"])
    assert "/healthz" in test
    assert "urllib" in test
    assert "curl" not in test


def test_it_waits_for_healthy_dependencies(services):
    for name in DJANGO_SERVICES:
        depends_on = services[name]["depends_on"]
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for dependency in ("postgres", "redis"):
            assert depends_on[dependency]["condition"] == "service_healthy", (name, dependency)
        for dependency, spec in depends_on.items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            if spec.get("condition") == "service_healthy":
                assert services[dependency].get("healthcheck"), (
                    f"{name} waits for {dependency} to be healthy but it has no healthcheck"
                )


def test_it_runs_celery_with_an_app_module_that_exists(services):
    found = []
    for name, text in _all_commands(services):
        for match in re.finditer(r"\bcelery\s+(?:-A|--app)[ =](\S+)", text):
            found.append((name, match.group(1)))
    assert {name for name, _ in found} >= {"worker", "beat"}, found
    for name, app in found:
        module = app.split(":", 1)[0]
        assert module == "clinic", f"{name}: celery -A {app}, expected the clinic app"
        assert _module_exists(module), f"{name}: celery app module {module} not found"
        # `-A clinic` makes celery import clinic.celery to find the app.
        assert (ROOT / "clinic" / "celery.py").is_file(), "clinic/celery.py is missing"


def test_it_runs_celery_worker_and_a_single_beat(services):
    assert re.search(r"\bcelery\b.*\bworker\b", _as_text(services["worker"]["command"]))
    assert re.search(r"\bcelery\b.*\bbeat\b", _as_text(services["beat"]["command"]))
    # Two beats would send every periodic task twice.
    replicas = (services["beat"].get("deploy") or {}).get("replicas", 1)
    assert replicas == 1
    assert not re.search(r"(\s-B\b|--beat\b)", _as_text(services["worker"]["command"])), (
        "worker must not embed beat (-B): scaling workers would duplicate beat"
    )


def test_it_points_gunicorn_at_an_existing_wsgi_application(services):
    targets = []
    for _, text in _all_commands(services):
        targets += re.findall(r"\bgunicorn\s+([\w.]+):(\w+)", text)
    targets += re.findall(r"\bgunicorn\s+([\w.]+):(\w+)", _dockerfile_cmd())
    assert targets, "no gunicorn module:attr found in compose or the Dockerfile"
    for module, attr in targets:
        assert (module, attr) == ("clinic.wsgi", "application")
        wsgi = ROOT / "clinic" / "wsgi.py"
        assert wsgi.is_file(), "clinic/wsgi.py is missing"
        assert re.search(rf"^{attr}\s*=", wsgi.read_text(), re.MULTILINE), (
            f"clinic/wsgi.py defines no `{attr} =`"
        )


def test_it_migrates_before_starting_gunicorn(services):
    text = _as_text(services["web"]["command"])
    assert "manage.py migrate --noinput" in text
    assert text.index("migrate") < text.index("gunicorn")
    # `;` would start gunicorn even when migrate failed.
    assert "&&" in text[text.index("migrate") : text.index("gunicorn")]


def test_it_only_runs_manage_py_commands_that_exist(services):
    command_files = {
        path.stem
        for path in ROOT.glob("*/management/commands/*.py")
        if not path.name.startswith("_")
    }
    texts = [text for _, text in _all_commands(services)] + [DOCKERFILE.read_text()]
    used = {name for text in texts for name in re.findall(r"manage\.py\s+([\w-]+)", text)}
    assert "migrate" in used
    unknown = used - DJANGO_BUILTIN_COMMANDS - command_files
    assert not unknown, f"manage.py commands with no built-in or command file: {unknown}"


def test_it_shares_one_django_environment_between_web_worker_and_beat(services):
    envs = [_environment(services[name]) for name in DJANGO_SERVICES]
    assert envs[0] == envs[1] == envs[2]
    builds = [services[name].get("build") for name in DJANGO_SERVICES]
    assert builds[0] and builds[0] == builds[1] == builds[2]


def test_it_wires_django_to_the_compose_services(services):
    env = _environment(services["web"])
    assert env["DATABASE_URL"] == "postgres://clinic:clinic@postgres:5432/clinic"
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["EMAIL_URL"] == "smtp://mailpit:1025"
    assert "localhost" in env["ALLOWED_HOSTS"] and "127.0.0.1" in env["ALLOWED_HOSTS"]
    # No TLS proxy in front: an https redirect would break the healthcheck.
    assert env["DJANGO_SECURE_SSL_REDIRECT"] in ("false", "${DJANGO_SECURE_SSL_REDIRECT:-false}")
    # No default secret: compose must refuse to start without one.
    assert env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")


def test_it_only_passes_env_vars_that_settings_reads(services):
    assert SETTINGS_FILE.is_file(), "clinic/settings.py does not exist (yet)"
    settings_text = SETTINGS_FILE.read_text()
    names = {name for svc in DJANGO_SERVICES for name in _environment(services[svc])}
    unread = sorted(
        name
        for name in names - ENV_NOT_IN_SETTINGS
        if not re.search(rf"\b{re.escape(name)}\b", settings_text)
    )
    assert not unread, f"env vars set in compose but never named in clinic/settings.py: {unread}"


def test_it_publishes_web_and_mailpit_ports(services):
    def container_ports(service):
        return {str(port).rsplit(":", 1)[-1].split("/")[0] for port in service.get("ports", [])}

    assert "8000" in container_ports(services["web"])
    assert {"8025", "1025"} <= container_ports(services["mailpit"])


def test_it_declares_and_uses_the_same_named_volumes(compose, services):
    declared = set(compose.get("volumes") or {})
    used = set()
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.get("source") if isinstance(volume, dict) else volume.split(":", 1)[0]
            # Bind mounts start with . / or ~; anything else is a named volume.
            if source and not source.startswith((".", "/", "~")):
                used.add(source)
    assert declared >= {"postgres_data", "redis_data"}
    assert used == declared, f"declared {sorted(declared)}, used {sorted(used)}"


def test_it_has_a_dockerfile_serving_clinic_wsgi_as_non_root():
    assert DOCKERFILE.is_file()
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.MULTILINE)
    assert "clinic.wsgi:application" in _dockerfile_cmd()
    assert shlex.split(_dockerfile_cmd())[0] == "gunicorn"
    assert re.search(r"^USER (?!root\b)\S+", text, re.MULTILINE), "image must not run as root"
    assert re.search(r"^EXPOSE 8000\b", text, re.MULTILINE)
    assert "pip install ." in text
    assert "collectstatic" in text

"""/healthz tells a load balancer whether the database and the broker answer."""

from django.db import connection

from clinic.celery import app as celery_app


def test_it_reports_healthy_when_database_and_broker_answer(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_it_reports_503_when_the_broker_is_down(client, db, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] != "ok"


class RefusingConnection:
    def cursor(self):
        raise connection.Database.OperationalError("connection refused")


def test_it_reports_503_when_the_database_is_down(client, db, monkeypatch):
    monkeypatch.setattr("clinic.health.connection", RefusingConnection())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "OperationalError"


# --- /healthz answers a load balancer's probe -------------------------------------------


def test_it_answers_health_probes_by_ip_over_plain_http(client, db, settings):
    settings.ALLOWED_HOSTS = ["clinic.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    # Everything else still checks the host and redirects to HTTPS.
    assert client.get("/accounts/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400
    login = client.get("/accounts/login/", HTTP_HOST="clinic.example.org")
    assert login.status_code == 301
    assert login.url.startswith("https://")

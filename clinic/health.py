"""/healthz: does the web process reach its database and its Celery broker?"""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from clinic.celery import app as celery_app


def database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # any failure means unhealthy; the reason goes in the body
        return False, exc.__class__.__name__


def broker_ok() -> tuple[bool, str]:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return True, "ok"
    except Exception as exc:
        return False, exc.__class__.__name__


@never_cache
def healthz(request):
    db, db_detail = database_ok()
    broker, broker_detail = broker_ok()
    healthy = db and broker
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            "database": db_detail,
            "broker": broker_detail,
        },
        status=200 if healthy else 503,
    )

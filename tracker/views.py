import sys

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from notifications.selectors import sla_sweep_status
from tracker.celery import app


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _broker_ok() -> bool:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: 503 when the database is unreachable."""
    database = _database_ok()
    broker = _broker_ok()
    body = {
        "status": "ok" if database and broker else ("degraded" if database else "down"),
        "database": "ok" if database else "unreachable",
        "broker": "ok" if broker else "unreachable",
        "broker_transport": settings.CELERY_BROKER_URL.split(":", 1)[0],
    }
    if database:
        sweep = sla_sweep_status(timezone.now())
        body["sla_sweep"] = {
            "last_finished": sweep.finished_at.isoformat() if sweep.finished_at else None,
            "age_seconds": sweep.age_seconds,
            "stale": sweep.stale,
        }
    return JsonResponse(body, status=200 if database else 503)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("issue_list")


def server_error(request: HttpRequest) -> HttpResponse:
    """500 handler; a lost database answers a clear 503 page (with Retry-After), never a traceback."""
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = "30"
        return response
    # A plain template without the request context: the error may lie in what builds it.
    request_id = getattr(request, "request_id", "")
    return HttpResponse(render_to_string("500.html", {"request_id": request_id}), status=500)

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_django(code: str, **env) -> subprocess.CompletedProcess:
    """Run a snippet under fresh settings built from the given environment."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "EMAIL_URL", "DEBUG"}
    }
    full_env.update(env)
    script = "import django; django.setup()\n" + code
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.django_db
def test_healthz_ok(client):
    """The suite's broker (Redis under CI, the filesystem broker otherwise) is reachable."""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert body["status"] == "ok"
    # The broker the suite is configured with: REDIS_URL when set, else the embedded one.
    assert body["broker_transport"] == ("redis" if os.environ.get("REDIS_URL") else "filesystem")


@pytest.mark.postgres
@pytest.mark.django_db
def test_healthz_reports_an_unreachable_broker_as_degraded():
    from django.db import connection

    db = connection.settings_dict
    result = run_django(
        "from django.test import Client\n"
        "r = Client().get('/healthz')\n"
        "print(r.status_code, r.content.decode())",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        CELERY_BROKER_URL="redis://127.0.0.1:1/0",
    )
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().split(" ", 1)
    assert status == "200"
    assert json.loads(body)["broker"] == "unreachable"
    assert json.loads(body)["status"] == "degraded"


def test_healthz_503_when_database_is_down(tmp_path):
    result = run_django(
        "from django.test import Client\n"
        "r = Client().get('/healthz')\n"
        "print(r.status_code, r.content.decode())",
        DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere",
        CELERY_BROKER_URL="memory://",
    )
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().split(" ", 1)
    assert status == "503"
    assert json.loads(body)["database"] == "unreachable"


def test_pages_answer_503_when_database_is_down():
    result = run_django(
        "from django.test import Client\n"
        "c = Client(raise_request_exception=False)\n"
        "c.cookies['sessionid'] = 'x' * 32\n"
        "r = c.get('/projects/')\n"
        "print(r.status_code, r['Retry-After'], 'temporarily unavailable' in r.content.decode())",
        DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere",
        CELERY_BROKER_URL="memory://",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["503", "30", "True"]


def test_settings_come_from_environment(tmp_path):
    result = run_django(
        "from django.conf import settings as s\n"
        "import json\n"
        "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'name': s.DATABASES['default']['NAME'],"
        " 'broker': s.CELERY_BROKER_URL, 'mail': s.MAILERS['default'], 'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS}))",
        DATABASE_URL="postgres://someone:pw@db.internal:5433/resolve",
        REDIS_URL="redis://cache.internal:6380/2",
        EMAIL_URL="smtp://mailer:secret@smtp.internal:2525",
        ALLOWED_HOSTS="resolve.example.com",
        SECRET_KEY="x" * 50,
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["name"] == "resolve"
    assert values["broker"] == "redis://cache.internal:6380/2"
    assert values["mail"]["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert values["mail"]["OPTIONS"]["host"] == "smtp.internal"
    assert values["mail"]["OPTIONS"]["port"] == 2525
    assert values["debug"] is False
    assert values["hosts"] == ["resolve.example.com"]


def test_embedded_defaults_need_no_server(tmp_path):
    result = run_django(
        "from django.conf import settings as s\n"
        "import json\n"
        "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'broker': s.CELERY_BROKER_URL,"
        " 'mail': s.MAILERS['default']['BACKEND']}))",
        DEBUG="true",
        SECRET_KEY="",
        RESOLVE_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["broker"] == "filesystem://"
    assert values["mail"] == "django.core.mail.backends.filebased.EmailBackend"


def test_secret_key_required_without_debug():
    result = run_django("", SECRET_KEY="", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_bad_boolean_fails_loudly():
    bad_bool = run_django("", DEBUG="maybe-ish", SECRET_KEY="x" * 50)
    assert bad_bool.returncode != 0
    assert "DEBUG='maybe-ish' is not a boolean" in bad_bool.stderr
    bad_int = run_django(
        "", CONN_MAX_AGE="sixty", SECRET_KEY="x" * 50, DATABASE_URL="postgres://u@h/db"
    )
    assert bad_int.returncode != 0
    assert "invalid literal" in bad_int.stderr
    good = run_django(
        "from django.conf import settings; print(settings.DEBUG)", DEBUG="off", SECRET_KEY="x" * 50
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "False"


def test_check_deploy_passes_with_production_settings():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "HTTPS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        SECRET_KEY="p" * 30 + "-production-secret-" + "q" * 20,
        ALLOWED_HOSTS="resolve.example.com",
        EMAIL_URL="smtp://smtp.example.com:587",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_security_headers_on_every_response(client):
    response = client.get("/accounts/login/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"

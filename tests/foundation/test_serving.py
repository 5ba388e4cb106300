"""Serving in production: plain HTTP meeting HTTPS-only settings says so, collectstatic needs
no database, and the served-pages benchmark runs end to end."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_plain_http_meeting_https_only_settings_is_logged_once(client, caplog, settings):
    with override_settings(SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=None):
        with caplog.at_level(logging.INFO, logger="resolve.https"):
            # A proxy terminates TLS but is not trusted: every request looks like plain HTTP.
            first = client.get("/issues/", HTTP_X_FORWARDED_PROTO="https")
            second = client.get("/issues/", HTTP_X_FORWARDED_PROTO="https")
    assert first.status_code == second.status_code == 301
    assert first["Location"].startswith("https://")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once, not once a request
    message = warnings[0].getMessage()
    assert "X-Forwarded-Proto: https" in message and "BEHIND_PROXY=true" in message
    assert any("HTTPS only" in r.getMessage() for r in caplog.records)  # at start-up


@pytest.mark.django_db
def test_plain_http_without_a_proxy_names_both_fixes(client, caplog):
    with override_settings(SECURE_SSL_REDIRECT=True):
        with caplog.at_level(logging.WARNING, logger="resolve.https"):
            assert client.get("/healthz").status_code in (200, 503)  # exempt: nothing said
            assert caplog.records == []
            client.get("/accounts/login/")
    assert "HTTPS=false" in caplog.records[0].getMessage()
    assert "BEHIND_PROXY=true" in caplog.records[0].getMessage()


def test_collectstatic_needs_no_database(tmp_path):
    """The image collects static files at build time: no database server is there, and the
    embedded SQLite file must not be created either."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}}
    for database_url in ("postgres://nobody@127.0.0.1:9/none", ""):
        var = tmp_path / ("pg" if database_url else "sqlite")
        run_env = {**env, "SECRET_KEY": "build-only", "RESOLVE_VAR_DIR": str(var)}
        if database_url:
            run_env["DATABASE_URL"] = database_url
        result = subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=ROOT,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert (var / "staticfiles" / "staticfiles.json").exists()
        assert not list(var.glob("*.sqlite3"))


@pytest.mark.postgres
@pytest.mark.django_db
def test_bench_served_measures_pages_through_gunicorn(tmp_path):
    """A small run of `manage.py bench_served`: its own database, gunicorn, login through the
    form, every page timed with its SQL floor, wrk when installed; JSON written."""
    params = connection.settings_dict
    name = f"{params['NAME']}_served_small"
    env = {**os.environ, "SECRET_KEY": "bench-test-key", "RESOLVE_VAR_DIR": str(tmp_path)}
    env.pop("DEBUG", None)
    env.pop("HTTPS", None)
    try:
        result = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "bench_served",
                "--issues=120",
                "--requests=2",
                "--warmup=1",
                "--replays=1",
                "--throughput-seconds=1",
                f"--database={name}",
                "--fresh",
                f"--output={tmp_path}",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        figures = json.loads((tmp_path / "served.json").read_text())
    finally:
        with psycopg.connect(
            dbname="postgres",
            host=params.get("HOST") or None,
            port=params.get("PORT") or None,
            user=params.get("USER") or None,
            password=params.get("PASSWORD") or None,
            autocommit=True,
        ) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pages = figures["pages"]
    for page in ("list_default", "list_sorted_key", "search_common", "issue_50_comments",
                 "create_issue", "comment", "triage", "sla_dashboard", "inbox"):  # fmt: skip
        assert pages[page]["p50_ms"] > 0, page
        assert pages[page]["queries"] > 0, page
    assert pages["list_default"]["sql_floor_ms"] > 0
    assert pages["list_default"]["page_over_sql"] > 0
    assert "sql_floor_ms" not in pages["create_issue"]  # writes are not replayed
    if figures["throughput"]:
        assert figures["throughput"]["list_default"]["non_2xx"] == 0
    assert "Served pages" in result.stdout


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_bench_sdk_pages_times_pages_while_events_stream_in(tmp_path):
    """A small run of `manage.py bench_sdk_pages`: gunicorn serving the pages and the SDK
    endpoint, a real Celery worker processing, the list and issue page timed idle and at a
    rate; every event sent is counted, JSON written."""
    params = connection.settings_dict
    name = f"{params['NAME']}_sdk_pages_small"
    env = {**os.environ, "SECRET_KEY": "bench-test-key", "RESOLVE_VAR_DIR": str(tmp_path)}
    env.pop("DEBUG", None)
    env.pop("HTTPS", None)
    output = tmp_path / "sdk_pages.json"
    try:
        result = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "bench_sdk_pages",
                "--issues=120",
                "--requests=3",
                "--warmup=1",
                "--rate=5",
                "--groups=20",
                f"--database={name}",
                f"--output={output}",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        figures = json.loads(output.read_text())
    finally:
        with psycopg.connect(
            dbname="postgres",
            host=params.get("HOST") or None,
            port=params.get("PORT") or None,
            user=params.get("USER") or None,
            password=params.get("PASSWORD") or None,
            autocommit=True,
        ) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    idle, streaming = figures["runs"]
    assert idle["rate"] == 0 and "events" not in idle
    assert streaming["rate"] == 5
    assert streaming["events"]["sent"] > 0
    assert streaming["events"]["statuses"] == {"200": streaming["events"]["sent"]}
    for run in (idle, streaming):
        assert run["pages"]["list_default"]["p50_ms"] > 0
        assert run["pages"]["issue_50_comments"]["p50_ms"] > 0
    assert figures["events_counted"] == figures["events_sent"] > 20  # the 20 warm-up groups
    assert "Pages while SDK events stream in" in result.stdout

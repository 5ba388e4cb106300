"""An unhandled error is visible to whoever runs Resolve and quotable by whoever met it: logged
once with its traceback and a request id, and that id on the 500 page / in the API's JSON."""

import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tracker.requestid import RequestIdFilter

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.foundation.boom_urls")]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def console():
    """What the configured console handler (settings.LOGGING) writes during the test."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RequestIdFilter) for f in h.filters)
    )
    stream = io.StringIO()
    old = handler.setStream(stream)
    yield stream
    handler.setStream(old)


@pytest.fixture
def quiet_client(client):
    client.raise_request_exception = False
    return client


def _logged_once(err: str, request_id: str, message: str) -> None:
    assert err.count("Traceback (most recent call last)") == 1, err
    assert err.count(message) >= 1
    line = next(line for line in err.splitlines() if "Internal Server Error" in line)
    assert f"[request {request_id}]" in line


def test_a_page_error_is_logged_once_and_the_page_shows_the_request_id(quiet_client, console):
    response = quiet_client.get("/boom/")
    assert response.status_code == 500
    request_id = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert f'<code id="request-id">{request_id}</code>' in response.text
    assert "Traceback" not in response.text and "the page blew up" not in response.text
    _logged_once(console.getvalue(), request_id, "Boom: the page blew up")


def test_an_api_error_is_logged_once_and_answers_json_with_the_request_id(quiet_client, console):
    response = quiet_client.get("/api/v1/boom/explode", HTTP_X_REQUEST_ID="proxy-id-12345")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "server_error"
    assert body["request_id"] == "proxy-id-12345" == response["X-Request-ID"]
    assert "proxy-id-12345" in body["detail"]
    assert "blew up" not in response.text
    _logged_once(console.getvalue(), "proxy-id-12345", "Boom: the API blew up")


@pytest.mark.parametrize("incoming", ["", "short", "x" * 65, "bad id!", "id\nforged-log-line"])
def test_an_odd_incoming_request_id_is_replaced(quiet_client, incoming):
    response = quiet_client.get("/healthz", HTTP_X_REQUEST_ID=incoming)
    assert response["X-Request-ID"] != incoming
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_not_found_and_forbidden_are_the_products_pages(client, project, reporter):
    client.force_login(reporter)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "There is nothing here, or you do not have access to it." in response.text


def _django(args: list[str], **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_run_settings_start_without_warnings(tmp_path):
    """`make run`'s embedded SQLite defaults: no system-check warnings on any command."""
    result = _django(["check"], DEBUG="false", HTTPS="false", SECRET_KEY="k" * 50,
                     RESOLVE_VAR_DIR=str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_make_run_turns_debug_pages_off():
    makefile = (ROOT / "Makefile").read_text()
    run_target = makefile.split("\nrun: venv", 1)[0].rsplit("\n\n", 1)[-1]
    assert "run: export DEBUG ?= false" in run_target
    assert "run: export HTTPS ?= false" in run_target

"""Intake tokens sent as `?token=` (Sentry webhooks) never reach a log line: not gunicorn's
access or error log, not Django's console or runserver log."""

import io
import logging

from gunicorn.config import Config

from tracker.logsafety import RedactingGunicornLogger, redact

SECRET = "rsi_Zm9vYmFyLWJhei1xdXV4LTEyMzQ1Njc4OTAtYWJjZGVmZ2hpams"
LINE = f'"POST /api/v1/projects/WEB/events/?format=sentry&token={SECRET} HTTP/1.1" 202 312'


def test_redact_blanks_query_tokens_and_resolve_tokens_anywhere():
    assert SECRET not in redact(LINE)
    assert "?format=sentry&token=[redacted] HTTP/1.1" in redact(LINE)
    assert redact(f"Authorization: Bearer {SECRET}") == "Authorization: Bearer rsi_[redacted]"
    assert (
        redact("/api/v1/projects/WEB/events/?token=")
        == "/api/v1/projects/WEB/events/?token=[redacted]"
    )
    assert redact("GET /issues/?status=new&q=token") == "GET /issues/?status=new&q=token"


def test_gunicorn_access_and_error_logs_are_redacted(tmp_path):
    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("errorlog", str(tmp_path / "error.log"))
    log = RedactingGunicornLogger(cfg)
    log.access_log.info("%(r)s %(s)s", {"r": LINE, "s": "202"})
    log.exception("Error handling request %s", f"/api/v1/projects/WEB/events/?token={SECRET}")
    for handler in (*log.access_log.handlers, *log.error_log.handlers):
        handler.flush()
    written = (tmp_path / "access.log").read_text() + (tmp_path / "error.log").read_text()
    assert "token=[redacted]" in written
    assert SECRET not in written


def test_the_project_gunicorn_config_uses_the_redacting_logger():
    from pathlib import Path

    cfg = Config()
    source = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"
    namespace: dict = {}
    exec(compile(source.read_text(), str(source), "exec"), namespace)  # noqa: S102  # nosec B102
    cfg.set("logger_class", namespace["logger_class"])
    assert cfg.logger_class is RedactingGunicornLogger


def test_django_console_and_runserver_logs_are_redacted():
    def ours(name):  # pytest adds its own capturing handlers next to the configured ones
        return [h for h in logging.getLogger(name).handlers if type(h) is logging.StreamHandler]

    console, runserver = ours(""), ours("django.server")
    assert console and runserver
    for handler in (*console, *runserver):
        stream = io.StringIO()
        old = handler.setStream(stream)
        try:
            record = logging.makeLogRecord({"msg": "%s", "args": (LINE,), "levelno": 30})
            record.levelname = "WARNING"
            handler.handle(record)
        finally:
            handler.setStream(old)
        assert "token=[redacted]" in stream.getvalue()
        assert SECRET not in stream.getvalue()

"""docker-compose.yml cannot be run here (no Docker engine): check that it names real things."""

import importlib
import shlex
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_stack_has_the_production_services(compose):
    assert set(compose["services"]) == {"db", "redis", "web", "worker", "beat", "mail"}
    for name, service in compose["services"].items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
    assert {"pgdata", "redisdata"} <= set(compose["volumes"])


def _command(service) -> list[str]:
    cmd = service["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else cmd


def test_commands_name_real_modules_and_settings(compose):
    from tracker.celery import app

    web = " ".join(_command(compose["services"]["web"]))
    module, attr = web.split("gunicorn ")[1].split()[0].split(":")
    assert hasattr(importlib.import_module(module), attr)
    assert "migrate" in web and "migrate" in get_commands()
    for name in ("worker", "beat"):
        cmd = _command(compose["services"][name])
        assert cmd[:3] == ["celery", "-A", "tracker"]
        assert cmd[3] == name
    mail = _command(compose["services"]["mail"])
    assert mail[:3] == ["python", "manage.py", "receive_mail"] and "receive_mail" in get_commands()
    assert app.main == "tracker"
    env = compose["x-app"]["environment"]
    from django.conf import settings

    for var in (
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "EMAIL_URL",
        "BASE_URL",
    ):
        assert var in env
    assert settings.ROOT_URLCONF == "tracker.urls"


def test_dockerfile_runs_gunicorn_on_the_wsgi_app():
    text = (ROOT / "Dockerfile").read_text()
    assert "tracker.wsgi:application" in text

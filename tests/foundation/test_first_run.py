"""What a new user trips over on the first run: e-mail links follow PORT."""

import pytest

from tests.foundation.test_health_and_settings import run_django

LINK = "from notifications.emails import absolute; print(absolute('/issues/WEB-1/'))"


def _env(**extra) -> dict:
    env = {"DEBUG": "true", "CELERY_BROKER_URL": "memory://"}
    env.update(extra)
    return env


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"PORT": "8123"}, "http://127.0.0.1:8123/issues/WEB-1/"),
        ({}, "http://127.0.0.1:8000/issues/WEB-1/"),
        (
            {"PORT": "8123", "BASE_URL": "https://resolve.example/"},
            "https://resolve.example/issues/WEB-1/",
        ),
    ],
)
def test_email_links_follow_port_unless_base_url_is_set(extra, expected, monkeypatch):
    monkeypatch.delenv("BASE_URL", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    result = run_django(LINK, **_env(**extra))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected

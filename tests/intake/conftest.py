import json
from pathlib import Path

import pytest

from intake.services import create_intake_token, get_intake_settings

PAYLOADS = Path(__file__).parent / "payloads"


def load_payload(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


@pytest.fixture
def intake_token(project, manager):
    """(token row, secret) of an intake token of WEB, created by its manager."""
    return create_intake_token(project, name="Monitoring", actor=manager)


@pytest.fixture
def intake_settings(project):
    return get_intake_settings(project)


@pytest.fixture
def send(client, intake_token):
    """POST a payload to WEB's intake with the token; returns the response."""

    def _send(data, *, key="WEB", secret=None, query="", raw=None, headers=None):
        body = raw if raw is not None else json.dumps(data)
        auth = {"HTTP_AUTHORIZATION": f"Bearer {secret or intake_token[1]}"}
        if headers is not None:
            auth = headers
        return client.post(
            f"/api/v1/projects/{key}/events/{query}",
            data=body,
            content_type="application/json",
            **auth,
        )

    return _send


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The personas' passwords hash with MD5 here: PBKDF2 costs ~1 s per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

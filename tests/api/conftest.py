import pytest

from api.services import create_api_token


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The personas' passwords hash with MD5 here: PBKDF2 costs ~1 s per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_get(client):
    def _get(path, secret):
        return client.get(path, HTTP_AUTHORIZATION=f"Bearer {secret}")

    return _get


@pytest.fixture
def api_post(client):
    def _post(path, secret, data=None, raw=None):
        import json

        body = raw if raw is not None else json.dumps(data)
        return client.post(
            path, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}"
        )

    return _post


@pytest.fixture
def token_of():
    def _token(user):
        return create_api_token(user, name="script")[1]

    return _token

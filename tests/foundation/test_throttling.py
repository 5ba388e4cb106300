import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _attempt(client, username, password="wrong", ip="10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_login_blocked_after_ten_attempts_per_ip_others_unaffected(settings):
    settings.AUTH_ATTEMPTS_RATE = "10/m"
    UserFactory(username="dana")
    attacker = Client()
    for i in range(10):
        assert _attempt(attacker, f"guess{i}").status_code == 200
    blocked = _attempt(attacker, "dana", PASSWORD)
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.text
    # Another client (another IP) logs in fine.
    assert _attempt(Client(), "dana", PASSWORD, ip="10.0.0.2").status_code == 302


def test_login_blocked_per_account_across_ips():
    UserFactory(username="dana")
    for i in range(10):
        _attempt(Client(), "dana", ip=f"10.0.1.{i}")
    assert _attempt(Client(), "dana", PASSWORD, ip="10.0.2.1").status_code == 429
    UserFactory(username="erin")
    assert _attempt(Client(), "erin", PASSWORD, ip="10.0.2.2").status_code == 302


def test_password_reset_is_throttled(mailoutbox):
    UserFactory(username="dana", email="dana@example.com")
    client = Client()
    for _ in range(10):
        client.post(
            reverse("password_reset"), {"email": "dana@example.com"}, REMOTE_ADDR="10.0.0.9"
        )
    blocked = client.post(
        reverse("password_reset"), {"email": "dana@example.com"}, REMOTE_ADDR="10.0.0.9"
    )
    assert blocked.status_code == 429
    assert len(mailoutbox) == 10


def test_login_still_works_when_the_cache_is_down(settings, caplog):
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    UserFactory(username="dana")
    assert _attempt(Client(), "dana", PASSWORD).status_code == 302
    assert "Login throttle unavailable" in caplog.text

"""Re-authentication before changing an authentication detail (ASVS V2.1 / V3.7).

A stolen session alone must not be enough to take an account over: changing the e-mail
address (where password resets go) and issuing an API token (a credential that acts as the
user) need the current password. Other profile fields do not. The password change itself
already asks for the old password (Django's view; see tests/foundation/test_auth.py).
"""

import time

import pytest
import time_machine
from django.urls import reverse

from accounts.models import User
from api.models import ApiToken
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _profile(**changes):
    return {
        "display_name": "Reporter",
        "first_name": "",
        "last_name": "",
        "email": "reporter@example.com",
        "time_zone": "UTC",
        **changes,
    }


def _stored(user):
    return User.objects.values("display_name", "email", "time_zone").get(pk=user.pk)


def test_new_email_without_the_password_changes_nothing(client, reporter):
    client.force_login(reporter)
    before = _stored(reporter)
    response = client.post(
        reverse("profile"), _profile(email="attacker@evil.example", display_name="Mallory")
    )
    assert response.status_code == 400
    assert "Enter your current password to change your e-mail address." in response.text
    assert _stored(reporter) == before
    # The refused address is not shown as the account's, anywhere on the page but the form.
    assert client.get(reverse("profile")).text.count("attacker@evil.example") == 0


def test_new_email_with_a_wrong_password_changes_nothing(client, reporter):
    client.force_login(reporter)
    before = _stored(reporter)
    response = client.post(
        reverse("profile"),
        _profile(email="attacker@evil.example", current_password="guess-1234"),
    )
    assert response.status_code == 400
    assert "That is not your current password. Nothing was changed" in response.text
    assert _stored(reporter) == before


def test_new_email_with_the_password_is_saved(client, reporter):
    client.force_login(reporter)
    response = client.post(
        reverse("profile"),
        _profile(email="rita@example.com", display_name="Rita", current_password=PASSWORD),
    )
    assert response.status_code == 302
    stored = _stored(reporter)
    assert (stored["email"], stored["display_name"]) == ("rita@example.com", "Rita")
    # Still signed in: re-authenticating is not a new login.
    assert client.get(reverse("profile")).status_code == 200


def test_other_profile_fields_need_no_password(client, reporter):
    client.force_login(reporter)
    response = client.post(
        reverse("profile"), _profile(display_name="Rita", time_zone="Europe/Berlin")
    )
    assert response.status_code == 302
    assert _stored(reporter) == {
        "display_name": "Rita",
        "email": "reporter@example.com",
        "time_zone": "Europe/Berlin",
    }


def test_guessing_the_password_on_the_profile_is_limited(client, reporter, developer):
    # The limit counts per clock minute: the clock stands still inside one (a slow machine
    # once crossed a minute boundary mid-test, and the count started again).
    clock = time_machine.travel(time.time() // 60 * 60 + 1, tick=False)
    clock.start()
    try:
        _guess_ten_times_then_limited(client, reporter, developer)
    finally:
        clock.stop()


def _guess_ten_times_then_limited(client, reporter, developer):
    client.force_login(reporter)
    for n in range(10):
        response = client.post(
            reverse("profile"), _profile(email="x@evil.example", current_password=f"guess-{n}")
        )
        assert response.status_code == 400
    limited = client.post(
        reverse("profile"), _profile(email="x@evil.example", current_password=PASSWORD)
    )
    assert limited.status_code == 429
    assert "Too many attempts" in limited.text
    assert _stored(reporter)["email"] == "reporter@example.com"
    # Another account is not affected.
    client.force_login(developer)
    other = client.post(
        reverse("profile"),
        {
            "display_name": "Dev",
            "email": "dev@example.com",
            "time_zone": "UTC",
            "current_password": PASSWORD,
        },
    )
    assert other.status_code == 302


@pytest.mark.parametrize("password", ["", "guess-1234"])
def test_a_token_needs_the_current_password(client, reporter, password):
    client.force_login(reporter)
    response = client.post(
        reverse("api_tokens"), {"name": "release script", "current_password": password}
    )
    assert response.status_code == 400
    assert ("Enter your current password to create a token." in response.text) == (not password)
    assert ("That is not your current password" in response.text) == bool(password)
    assert "new-token-secret" not in response.text
    assert not ApiToken.objects.filter(user=reporter).exists()


def test_a_token_with_the_password_is_created(client, reporter):
    client.force_login(reporter)
    response = client.post(
        reverse("api_tokens"), {"name": "release script", "current_password": PASSWORD}
    )
    assert response.status_code == 200
    assert 'id="new-token-secret"' in response.text
    assert ApiToken.objects.filter(user=reporter, name="release script").count() == 1

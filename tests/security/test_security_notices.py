"""The owner of an account hears when an authentication detail changes (ASVS V2.2.3): a new
e-mail address is told to the OLD address, a new password to the account's address."""

import re
import socket

import pytest
from django.urls import reverse

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _profile(user, **changes):
    return {
        "display_name": user.display_name or user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "time_zone": "Europe/Berlin",
        **changes,
    }


def test_new_email_address_is_told_to_the_old_one(
    client, reporter, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(reporter)
    with django_capture_on_commit_callbacks(execute=True):  # sent once the change is committed
        response = client.post(
            reverse("profile"),
            _profile(reporter, email="rita.new@example.org", current_password=PASSWORD),
        )
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    notice = mailoutbox[0]
    assert notice.to == ["reporter@example.com"]
    assert notice.subject == "[Resolve] Your e-mail address was changed"
    assert "r***@example.org" in notice.body and "rita.new@" not in notice.body
    assert "/accounts/password/reset/" in notice.body
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d CE[S]?T", notice.body)  # the user's zone


def test_refused_or_unchanged_email_sends_nothing(
    client, reporter, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(reporter)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("profile"),
            _profile(reporter, email="x@evil.example", current_password="wrong-1"),
        )
        client.post(reverse("profile"), _profile(reporter, display_name="Rita"))
    assert mailoutbox == []


def test_password_change_is_told_to_the_account(client, mailoutbox):
    user = UserFactory(username="dana", email="dana@example.com")
    client.force_login(user)
    new = "another-long-secret-7"
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["dana@example.com"], "[Resolve] Your password was changed")
    ]


def test_password_reset_is_told_to_the_account(client, mailoutbox):
    UserFactory(username="dana", email="dana@example.com")
    client.post(reverse("password_reset"), {"email": "dana@example.com"})
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+)", mailoutbox[0].body).group(1)
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    new = "a-new-long-secret-42"
    assert client.post(set_url, {"new_password1": new, "new_password2": new}).status_code == 302
    assert len(mailoutbox) == 2
    assert mailoutbox[1].subject == "[Resolve] Your password was changed"
    assert mailoutbox[1].to == ["dana@example.com"]


def test_a_mail_server_that_is_down_does_not_undo_the_change(
    client, reporter, settings, django_capture_on_commit_callbacks, caplog
):
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 2},
        }
    }
    client.force_login(reporter)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            reverse("profile"),
            _profile(reporter, email="rita.new@example.org", current_password=PASSWORD),
        )
    assert len(callbacks) == 1  # the notice was attempted…
    assert "Could not send the email_changed notice" in caplog.text  # …and failed, logged
    assert response.status_code == 302
    assert User.objects.get(pk=reporter.pk).email == "rita.new@example.org"

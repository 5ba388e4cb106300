import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "Log in to Resolve" in response.text
    assert "<title>Log in · Resolve</title>" in response.text


def test_login_then_logout(client):
    UserFactory(username="dana")
    response = client.post(reverse("login"), {"username": "dana", "password": PASSWORD})
    assert response.status_code == 302
    session_before = client.session.session_key
    page = client.get(reverse("project_list"))
    assert page.status_code == 200
    assert "Dana" in page.text

    client.post(reverse("logout"))
    assert client.session.session_key != session_before
    assert client.get(reverse("project_list")).status_code == 302


def test_wrong_password_shows_error_and_stays_anonymous(client):
    UserFactory(username="dana")
    response = client.post(reverse("login"), {"username": "dana", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text
    assert client.get(reverse("project_list")).status_code == 302


def test_session_rotates_on_login(client):
    UserFactory(username="dana")
    client.get(reverse("login"))
    client.cookies["sessionid"] = "attacker-fixed-session"
    client.post(reverse("login"), {"username": "dana", "password": PASSWORD})
    assert client.cookies["sessionid"].value != "attacker-fixed-session"


def test_password_reset_sends_email_with_working_link(client, mailoutbox):
    user = UserFactory(username="dana", email="dana@example.com")
    response = client.post(reverse("password_reset"), {"email": "dana@example.com"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["dana@example.com"]
    assert message.subject == "[Resolve] Reset your password"
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+)", message.body).group(1)

    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.text
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "a-new-long-secret-42", "new_password2": "a-new-long-secret-42"}
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-new-long-secret-42")


def test_password_reset_for_unknown_address_sends_nothing(client, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": "ghost@example.com"})
    assert response.status_code == 302
    assert mailoutbox == []


def test_password_change(client):
    user = UserFactory(username="dana")
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-secret-7",
            "new_password2": "another-long-secret-7",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-long-secret-7")


def test_profile_time_zone_is_used_for_dates(client, project, reporter):
    from tests.factories import make_issue

    make_issue(project, reporter)
    client.force_login(reporter)
    response = client.post(
        reverse("profile"),
        {
            "display_name": "Rita",
            "first_name": "",
            "last_name": "",
            "email": "r@example.com",
            "time_zone": "Asia/Tokyo",
            "current_password": PASSWORD,
        },
    )
    assert response.status_code == 302
    listing = client.get(reverse("issue_list"))
    assert "JST" in listing.text


def test_profile_rejects_unknown_time_zone(client, reporter):
    client.force_login(reporter)
    response = client.post(
        reverse("profile"),
        {"display_name": "Rita", "email": "r@example.com", "time_zone": "Mars/Olympus"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.text
    reporter.refresh_from_db()
    assert reporter.time_zone == "UTC"


def test_email_goes_through_configured_mailer(settings, tmp_path):
    """MAILERS (Django 6.1) decides where mail goes: here the file backend of `make run`."""
    from django.core.mail import send_mail

    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(tmp_path)},
        }
    }
    send_mail("Hello", "Body", None, ["x@example.com"])
    written = list(tmp_path.iterdir())
    assert len(written) == 1
    assert "Subject: Hello" in written[0].read_text()
    assert mail.outbox == []


def test_sessions_and_users_read_by_compiled_statements_behave_as_djangos(client):
    """accounts.sessions / accounts.backends: a session signed in before them (through
    Django's ModelBackend) stays signed in; an expired session, an inactive user and a
    password changed elsewhere still sign the browser out."""
    from datetime import timedelta

    from django.contrib.auth import BACKEND_SESSION_KEY
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    dana = UserFactory(username="dana")
    client.post(reverse("login"), {"username": "dana", "password": PASSWORD})
    session = client.session
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session.save()
    assert client.get(reverse("project_list")).status_code == 200
    assert client.session[BACKEND_SESSION_KEY] == "accounts.backends.UserBackend"
    assert client.get(reverse("project_list")).status_code == 200

    dana.is_active = False
    dana.save(update_fields=["is_active"])
    assert client.get(reverse("project_list")).status_code == 302
    dana.is_active = True
    dana.save(update_fields=["is_active"])
    client.post(reverse("login"), {"username": "dana", "password": PASSWORD})
    assert client.get(reverse("project_list")).status_code == 200
    dana.set_password("another-long-passphrase")
    dana.save(update_fields=["password"])
    assert client.get(reverse("project_list")).status_code == 302

    client.post(reverse("login"), {"username": "dana", "password": "another-long-passphrase"})
    assert client.get(reverse("project_list")).status_code == 200
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert client.get(reverse("project_list")).status_code == 302

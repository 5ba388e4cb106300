"""API requests skip the browser-only middleware (sessions, signed-in user, time zone,
messages) and keep the security headers; pages keep all of it."""

import json

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db


def _post_event(client, secret):
    return client.post(
        "/api/v1/projects/WEB/events/",
        data=json.dumps({"title": "Checkout times out"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


@pytest.fixture
def intake_secret(project, manager):
    from intake.services import create_intake_token

    return create_intake_token(project, name="Monitoring", actor=manager)[1]


def test_api_answers_keep_the_security_headers_but_touch_no_session(client, manager, intake_secret):
    client.force_login(manager)  # a browser session cookie is sent along
    response = _post_event(client, intake_secret)
    assert response.status_code == 202
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Cookie" not in response.get("Vary", "")
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies


def test_a_browser_session_does_not_authenticate_the_api(client, manager, token_of):
    client.force_login(manager)
    assert client.get("/api/v1/issues").status_code == 401
    with_token = client.get("/api/v1/issues", HTTP_AUTHORIZATION=f"Bearer {token_of(manager)}")
    assert with_token.status_code == 200


def test_api_dates_are_utc_even_after_a_page_in_another_time_zone(client, manager, token_of):
    manager.time_zone = "Asia/Tokyo"
    manager.save()
    client.force_login(manager)
    assert client.get("/issues/").status_code == 200
    assert timezone.get_current_timezone_name() == "Asia/Tokyo"  # the page activated it
    client.get("/api/v1/issues", HTTP_AUTHORIZATION=f"Bearer {token_of(manager)}")
    assert timezone.get_current_timezone_name() == "UTC"


def test_pages_still_load_the_session_and_the_users_time_zone(client, manager):
    manager.time_zone = "Europe/Berlin"
    manager.save()
    client.force_login(manager)
    response = client.get("/issues/")
    assert response.status_code == 200
    assert response.wsgi_request.user == manager
    assert "Cookie" in response["Vary"]
    assert timezone.get_current_timezone_name() == "Europe/Berlin"

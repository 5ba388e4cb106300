"""CSRF and methods: every state-changing view refuses GET (405, or renders without changing
anything) and refuses a POST without a CSRF token (403, nothing changed).

The routes are the access matrix's table (`ROUTES`): every route that accepts a POST is
exercised on the persona's own project, where the POST would otherwise be allowed.

The JSON API is exempt by design: it authenticates only with bearer tokens
(`Authorization: Bearer rsp_…` / `rsi_…`), which a browser never attaches by itself, so a
cross-site request cannot ride on a session cookie — the API ignores the session entirely.
"""

from urllib.parse import urlencode

import pytest
from django.test import Client

from .test_access_matrix import FOREIGN, SCOPED, _snapshot, all_routes, classify

pytestmark = pytest.mark.django_db


def _state_changing(side):
    for route in all_routes():
        spec = classify(route)
        if spec.kind in (FOREIGN, SCOPED) and spec.posts:
            for url in spec.urls(side):
                yield url, spec.post(side)


def test_post_without_csrf_token_is_refused_everywhere(world, manager):
    side = world["WEB"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    before = _snapshot(side)
    checked = 0
    for url, data in _state_changing(side):
        response = client.post(url, data)
        assert response.status_code == 403, f"POST {url} without a CSRF token: {response}"
        checked += 1
    assert checked >= 25
    assert _snapshot(side) == before


def test_get_never_changes_anything(client, world, manager):
    side = world["WEB"]
    client.force_login(manager)
    before = _snapshot(side)
    for url, data in _state_changing(side):
        response = client.get(f"{url}?{urlencode(data, doseq=True)}")
        assert response.status_code in (200, 302, 405, 409), f"GET {url}: {response}"
    assert _snapshot(side) == before


def test_post_with_the_token_is_accepted(world, manager):
    """The refusal above is the token's doing: the same form with its token works."""
    side = world["WEB"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    page = client.get(f"/issues/{side.issue.key}/")
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else None
    token = token or client.cookies["csrftoken"].value
    response = client.post(
        f"/issues/{side.issue.key}/comments/",
        {"body": "With a token", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302


def test_api_ignores_the_session_and_needs_no_csrf_token(world, manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    body = {"project": "WEB", "title": "From a script"}
    # The session cookie alone is not a credential for the API (so no CSRF to ride on) ...
    cookie_only = client.post("/api/v1/issues", body, content_type="application/json")
    assert cookie_only.status_code == 401
    # ... and a bearer token, which a browser never sends by itself, needs no CSRF token.
    with_bearer = client.post(
        "/api/v1/issues",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {world['WEB'].api_secret}",
    )
    assert with_bearer.status_code == 201, with_bearer.content


@pytest.mark.parametrize("url", ["/accounts/login/", "/accounts/password/reset/"])
def test_anonymous_forms_need_the_token_too(db, url, reporter):
    client = Client(enforce_csrf_checks=True)
    response = client.post(url, {"username": "reporter", "email": "reporter@example.com"})
    assert response.status_code == 403


def test_logout_needs_post_and_token(reporter):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reporter)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 403
    assert client.get("/issues/").status_code == 200  # still signed in

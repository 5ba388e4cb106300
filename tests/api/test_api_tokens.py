"""Personal API tokens on the profile: created (shown once, stored hashed) and revoked."""

import hashlib
import re

import pytest
from django.urls import reverse

from api.models import ApiToken
from tests.factories import PASSWORD, make_issue

pytestmark = pytest.mark.django_db


def test_profile_links_to_api_tokens(client, reporter):
    client.force_login(reporter)
    assert reverse("api_tokens") in client.get(reverse("profile")).text


def test_create_use_and_revoke_a_token(client, project, reporter):
    make_issue(project, reporter)
    client.force_login(reporter)
    created = client.post(
        reverse("api_tokens"), {"name": "release script", "current_password": PASSWORD}
    )
    assert created.status_code == 200
    secret = re.search(r'id="new-token-secret">(rsp_[^<]+)<', created.text).group(1)
    token = ApiToken.objects.get(user=reporter)
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in client.get(reverse("api_tokens")).text

    client.logout()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/v1/issues/WEB-1", **auth).status_code == 200

    client.force_login(reporter)
    page = client.post(reverse("api_token_revoke", args=[token.pk]), follow=True)
    assert "revoked" in page.text
    client.logout()
    assert client.get("/api/v1/issues/WEB-1", **auth).status_code == 401


def test_token_needs_a_name(client, reporter):
    client.force_login(reporter)
    response = client.post(reverse("api_tokens"), {"name": ""})
    assert response.status_code == 400
    assert ApiToken.objects.count() == 0


def test_cannot_revoke_someone_elses_token(client, reporter, developer):
    from api.services import create_api_token

    token, _ = create_api_token(developer, name="theirs")
    client.force_login(reporter)
    assert client.post(reverse("api_token_revoke", args=[token.pk])).status_code == 404
    assert ApiToken.objects.get().revoked_at is None
    assert "theirs" not in client.get(reverse("api_tokens")).text

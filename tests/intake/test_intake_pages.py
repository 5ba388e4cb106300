"""The intake page: tokens (shown once, stored hashed, revocable), settings, examples, groups."""

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from intake.models import EventGroup, IntakeSettings, IntakeToken
from issues.models import Issue
from tests.factories import make_issue

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


def _secret(html: str) -> str:
    match = re.search(r'id="new-token-secret">(rsi_[^<]+)<', html)
    assert match, "the new token is shown"
    return match.group(1)


def test_manager_creates_a_token_shown_once_and_stored_hashed(client, manager, project):
    client.force_login(manager)
    url = reverse("intake_page", args=["WEB"])
    response = client.post(reverse("intake_token_create", args=["WEB"]), {"name": "Sentry"})
    assert response.status_code == 200
    secret = _secret(response.text)
    token = IntakeToken.objects.get()
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert not IntakeToken.objects.filter(digest__contains=secret).exists()
    assert token.prefix in secret

    page = client.get(url)
    assert secret not in page.text  # shown once only
    assert "Sentry" in page.text and token.prefix in page.text

    ok = client.post(
        "/api/v1/projects/WEB/events/",
        data={"title": "From the new token"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert ok.status_code == 202


def test_revoked_token_stops_working(client, manager, intake_token):
    client.force_login(manager)
    token, secret = intake_token
    response = client.post(reverse("intake_token_revoke", args=["WEB", token.pk]), follow=True)
    assert "revoked" in response.text
    refused = client.post(
        "/api/v1/projects/WEB/events/",
        data={"title": "x"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert refused.status_code == 401


def test_token_needs_a_name(client, manager):
    client.force_login(manager)
    response = client.post(reverse("intake_token_create", args=["WEB"]), {"name": ""})
    assert response.status_code == 400
    assert "This field is required" in response.text
    assert IntakeToken.objects.count() == 0


def test_page_shows_curl_examples_for_each_format(client, manager):
    client.force_login(manager)
    page = client.get(reverse("intake_page", args=["WEB"]))
    assert page.status_code == 200
    assert "<title>Intake · WEB · Resolve</title>" in page.text
    assert page.text.count("curl -X POST") == 3
    assert "?format=sentry" in page.text
    assert '"alerts"' in page.text
    assert "http://testserver/api/v1/projects/WEB/events/" in page.text
    assert 'style="' not in page.text  # CSP: no inline styles


def test_developer_sees_groups_but_cannot_manage_tokens(client, developer, intake_token):
    client.force_login(developer)
    page = client.get(reverse("intake_page", args=["WEB"]))
    assert page.status_code == 200
    assert intake_token[0].prefix not in page.text  # the token list is for managers
    assert (
        client.post(reverse("intake_token_create", args=["WEB"]), {"name": "x"}).status_code == 403
    )
    revoke = reverse("intake_token_revoke", args=["WEB", intake_token[0].pk])
    assert client.post(revoke).status_code == 403
    assert IntakeToken.objects.get().revoked_at is None


def test_outsider_gets_404(client, outsider, project, intake_token):
    client.force_login(outsider)
    assert client.get(reverse("intake_page", args=["WEB"])).status_code == 404
    assert (
        client.post(reverse("intake_token_create", args=["WEB"]), {"name": "x"}).status_code == 404
    )


def _settings_data(**overrides):
    data = {
        "threshold": 5,
        "window_minutes": 15,
        "regression_policy": "new_issue",
        "rate_limit_per_minute": 120,
        "level_fatal": 4,
        "level_critical": 4,
        "level_error": 4,
        "level_warning": 2,
        "level_info": 1,
        "level_debug": 1,
    }
    data.update(overrides)
    return data


def test_manager_edits_settings(client, manager, project):
    client.force_login(manager)
    response = client.post(reverse("intake_settings", args=["WEB"]), _settings_data(), follow=True)
    assert "Intake settings saved." in response.text
    row = IntakeSettings.objects.get(project=project)
    assert (row.threshold, row.window_minutes, row.regression_policy) == (5, 15, "new_issue")
    assert row.severity_for("error") == 4


def test_bad_settings_show_the_error_and_change_nothing(client, manager, project):
    client.force_login(manager)
    response = client.post(reverse("intake_settings", args=["WEB"]), _settings_data(threshold=0))
    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 1" in response.text
    assert IntakeSettings.objects.get(project=project).threshold == 1


def test_group_page_shows_the_per_day_chart(client, developer, send, django_assert_num_queries):
    for offset, times in ((2, 1), (1, 4), (0, 2)):
        with time_machine.travel(T0 - timedelta(days=offset), tick=False):
            for _ in range(times):
                send({"title": "Search is slow", "message": "took 4100 ms"})
    group = EventGroup.objects.get()
    client.force_login(developer)
    url = reverse("intake_group", args=["WEB", group.pk])
    with time_machine.travel(T0, tick=False):
        client.get(url)  # warm the session
        with django_assert_num_queries(9):
            page = client.get(url)
    assert page.status_code == 200
    assert "<svg" in page.text
    assert page.text.count('class="chart-bar"') == 30
    assert "7 events · peak 4/day" in page.text
    assert "Fri 30 Jan: 4 events" in page.text
    assert 'style="' not in page.text


def test_other_projects_group_is_404(client, outsider, send):
    send({"title": "Secret outage"})
    group = EventGroup.objects.get()
    client.force_login(outsider)
    assert client.get(reverse("intake_group", args=["WEB", group.pk])).status_code == 404
    assert client.get(reverse("intake_group", args=["OPS", group.pk])).status_code == 404


def test_intake_page_query_count_does_not_grow_with_groups(
    client, manager, send, django_assert_max_num_queries
):
    for i in range(5):
        send({"title": f"Error {i}"})
    client.force_login(manager)
    url = reverse("intake_page", args=["WEB"])
    client.get(url)
    with django_assert_max_num_queries(10):
        page = client.get(url)
    assert page.text.count('class="issue-key"') == 5
    assert "used " in page.text  # the token's last use is shown


def test_issue_chart_tag_for_the_issue_page(send, project):
    from django.template import Context, Template

    from issues.models import Issue

    with time_machine.travel(T0, tick=False):
        send({"title": "Checkout times out"})
        send({"title": "Checkout times out"})
        issue = Issue.objects.get()
        html = Template("{% load intake_tags %}{% issue_occurrence_chart issue %}").render(
            Context({"issue": issue})
        )
    assert html.count('class="chart-bar"') == 30
    assert "2 events · peak 2/day" in html
    manual = Issue.objects.create(
        project=project, number=99, title="By hand", reporter=issue.reporter
    )
    empty = Template("{% load intake_tags %}{% issue_occurrence_chart issue %}").render(
        Context({"issue": manual})
    )
    assert "<svg" not in empty


def test_issue_page_shows_the_event_chart_with_a_constant_query_count(
    client, send, project, reporter, django_assert_num_queries
):
    with time_machine.travel(T0, tick=False):
        send({"title": "Checkout times out"})
        send({"title": "Checkout times out"})
        intake_issue = Issue.objects.get()
    hand = make_issue(project, reporter, title="Filed by hand")
    client.force_login(reporter)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        page = client.get(intake_issue.get_absolute_url())
        assert "Monitoring events" in page.text
        assert "2 events" in page.text
        assert page.text.count('class="chart-bar"') == 30
        assert "style=" not in page.text.split("Monitoring events")[1].split("</section>")[0]
        assert "Monitoring events" not in client.get(hand.get_absolute_url()).text

        def count(url):
            from django.db import connection
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as ctx:
                client.get(url)
            return len(ctx.captured_queries)

        before = count(intake_issue.get_absolute_url())
    # More events on more days: the page costs the same.
    for day in range(1, 6):
        with time_machine.travel(T0 + timedelta(days=day), tick=False):
            send({"title": "Checkout times out"})
    with time_machine.travel(T0 + timedelta(days=6), tick=False):
        with django_assert_num_queries(before):
            page = client.get(intake_issue.get_absolute_url())
    assert "7 events" in page.text
    # A hand-filed issue pays one query for the panel (nothing feeds it), an intake issue two.
    assert before == count(hand.get_absolute_url()) + 1

"""The settings pages, the SSRF guard (DNS answers simulated: no traffic leaves the machine)
and what Managers see; below the browser, through the URLs."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from webhooks import urlsafety
from webhooks.models import Attempt, Delivery, DeliveryState, EventType, Subscription
from webhooks.services import (
    SubscriptionError,
    create_subscription,
    deliver_due,
    send_ping,
)

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.216.34"


@pytest.fixture
def dns(monkeypatch):
    """host -> addresses; anything else does not resolve."""
    table = {"hooks.example.com": [PUBLIC]}

    def resolve(host, port):
        if host in table:
            return table[host]
        try:
            import ipaddress

            return [str(ipaddress.ip_address(host))]
        except ValueError:
            raise OSError("unknown host") from None

    monkeypatch.setattr(urlsafety, "resolve", resolve)
    return table


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://[::1]:8080/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://internal.example.com/hook", "private network"),
        ("http://[::ffff:10.0.0.7]/hook", "private network"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://0.0.0.0/hook", "reserved"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("gopher://hooks.example.com/", "Only http:// and https://"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("https://nowhere.invalid/", "does not resolve"),
    ],
)
def test_unsafe_targets_are_refused_when_saved(project, manager, dns, url, message):
    dns["internal.example.com"] = ["10.1.2.3"]
    with pytest.raises(SubscriptionError, match=message):
        create_subscription(project, actor=manager, url=url, event_types=[EventType.CREATED])
    assert not Subscription.objects.exists()


def test_a_public_target_is_accepted(project, manager, dns):
    sub = create_subscription(
        project, actor=manager, url="https://hooks.example.com/r", event_types=["issue.created"]
    )
    assert sub.secret.startswith("whsec_") and sub.state == "active"


def test_dns_that_changes_to_a_private_address_is_refused_at_send_time(project, manager, dns):
    sub = create_subscription(
        project, actor=manager, url="https://hooks.example.com/r", event_types=["issue.created"]
    )
    dns["hooks.example.com"] = ["10.0.0.5"]  # rebinding after the save
    send_ping(sub, actor=manager)
    deliver_due(sub.pk, force=True)
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    attempt = Attempt.objects.get()
    assert attempt.status_code is None
    assert "Refused" in attempt.error and "private network" in attempt.error


def test_the_setting_allows_private_targets_for_on_premises(project, manager, dns, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    sub = create_subscription(
        project, actor=manager, url="http://10.0.0.5:9000/hook", event_types=["issue.created"]
    )
    assert sub.pk
    with pytest.raises(SubscriptionError, match="Only http"):
        create_subscription(project, actor=manager, url="file:///x", event_types=["issue.created"])


# --- the settings page ---------------------------------------------------------------------


def _post(client, project, **data):
    return client.post(
        reverse("webhook_list", args=[project.key]),
        {"event_types": ["issue.created"], "format": "standard", "active": "on", **data},
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "Enter a full URL"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("https://hooks.example.com/" + "a" * 10_000, "at most 2000 characters"),
        ("http://169.254.169.254/", "link-local"),
        ("", "This field is required"),
    ],
)
def test_bad_input_on_the_form_gets_a_clear_error_and_saves_nothing(
    client, project, manager, dns, url, message
):
    client.force_login(manager)
    response = _post(client, project, url=url, description="CI")
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body.replace("&#x27;", "'")
    assert 'value="CI"' in body  # what was typed is kept
    assert not Subscription.objects.exists()


def test_no_event_type_chosen_is_refused(client, project, manager, dns):
    client.force_login(manager)
    response = client.post(
        reverse("webhook_list", args=[project.key]),
        {"url": "https://hooks.example.com/", "format": "standard"},
    )
    assert response.status_code == 400
    assert not Subscription.objects.exists()


def test_a_manager_creates_a_webhook_and_sees_its_secret_once(client, project, manager, dns):
    client.force_login(manager)
    response = _post(client, project, url="https://hooks.example.com/ci", description="CI")
    assert response.status_code == 200
    sub = Subscription.objects.get()
    assert sub.secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    page = client.get(reverse("webhook_detail", args=[project.key, sub.pk])).content.decode()
    assert sub.secret not in page and "https://hooks.example.com/ci" in page


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_for_24_hours(
    client, project, manager, dns
):
    client.force_login(manager)
    sub = create_subscription(
        project, actor=manager, url="https://hooks.example.com/", event_types=["issue.created"]
    )
    old = sub.secret
    response = client.post(reverse("webhook_rotate", args=[project.key, sub.pk]))
    sub.refresh_from_db()
    assert sub.secret != old and sub.secret in response.content.decode()
    assert sub.previous_secret == old
    assert timedelta(hours=23) < sub.previous_secret_until - timezone.now() <= timedelta(hours=24)


def test_only_managers_reach_the_webhook_pages(client, project, manager, developer, outsider, dns):
    sub = create_subscription(
        project, actor=manager, url="https://hooks.example.com/", event_types=["issue.created"]
    )
    urls = [
        reverse("webhook_list", args=[project.key]),
        reverse("webhook_detail", args=[project.key, sub.pk]),
    ]
    client.force_login(developer)
    assert [client.get(u).status_code for u in urls] == [403, 403]
    assert client.post(reverse("webhook_ping", args=[project.key, sub.pk])).status_code == 403
    client.force_login(outsider)
    assert [client.get(u).status_code for u in urls] == [404, 404]
    assert not Delivery.objects.exists()


def test_list_and_detail_pages_have_pinned_query_counts(
    client, project, manager, dns, django_assert_num_queries
):
    client.force_login(manager)
    subs = [
        create_subscription(
            project,
            actor=manager,
            url=f"https://hooks.example.com/{i}",
            event_types=["issue.created"],
        )
        for i in range(3)
    ]
    for _ in range(5):
        send_ping(subs[0], actor=manager)
    client.get(reverse("webhook_list", args=[project.key]))  # warm the session
    with django_assert_num_queries(7):
        assert client.get(reverse("webhook_list", args=[project.key])).status_code == 200
    with django_assert_num_queries(9):
        page = client.get(reverse("webhook_detail", args=[project.key, subs[0].pk]))
    assert page.status_code == 200 and page.content.decode().count("<code>ping</code>") == 5


def test_an_endpoint_failing_for_3_days_is_disabled_managers_told_and_resumed(
    client, project, manager, dns, mailoutbox, settings
):
    """No receiver listens on the port: every attempt fails to connect."""
    from .conftest import free_port

    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_CONNECT_TIMEOUT = 1
    sub = create_subscription(
        project,
        actor=manager,
        url=f"http://127.0.0.1:{free_port()}/gone",
        event_types=["issue.created"],
    )
    start = timezone.now()
    with time_machine.travel(start, tick=True) as clock:
        from tests.factories import make_issue

        make_issue(project, manager)
        from notifications.services import process_outbox

        process_outbox()
        deliver_due(sub.pk)
        sub.refresh_from_db()
        assert sub.failing_since is not None and sub.state == "active"
        for hours in (30, 60, 73):
            clock.move_to(start + timedelta(hours=hours))
            make_issue(project, manager)
            process_outbox()
            Delivery.objects.filter(state="pending").update(next_attempt_at=timezone.now())
            deliver_due(sub.pk)
    sub.refresh_from_db()
    assert sub.state == "disabled"
    from webhooks.emails import mail_disabled_subscription

    assert mail_disabled_subscription(sub.pk) == 1
    mail = mailoutbox[-1]
    assert mail.to == [manager.email]
    assert "webhook disabled after failing for 72 h" in mail.subject
    assert f"/projects/{project.key}/webhooks/{sub.pk}/" in mail.body
    assert f"/projects/{project.key}/webhooks/{sub.pk}/" in mail.alternatives[0][0]
    # The oldest deliveries gave up after 24 h; the newer ones wait for the re-enable.
    assert Delivery.objects.filter(state=DeliveryState.FAILED).exists()
    pending = Delivery.objects.filter(state=DeliveryState.PENDING)
    assert pending.exists()
    client.force_login(manager)
    page = client.get(reverse("webhook_detail", args=[project.key, sub.pk])).content.decode()
    assert "Disabled" in page
    response = client.post(
        reverse("webhook_detail", args=[project.key, sub.pk]),
        {"url": sub.url, "event_types": ["issue.created"], "format": "standard", "active": "on"},
    )
    assert response.status_code == 302
    sub.refresh_from_db()
    assert sub.state == "active" and sub.failing_since is None
    assert all(d.next_attempt_at <= timezone.now() for d in pending)

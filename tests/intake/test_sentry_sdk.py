"""The real sentry-sdk (PyPI) reporting to a live Resolve: each distinct error is one issue
with its stack trace, repeats count on it, the SDK backs off when rate-limited."""

import json
import subprocess
import sys
import textwrap
import time

import pytest
from django.urls import reverse

from intake.models import EventGroup, SdkEvent
from intake.sdk import create_dsn_key, process_sdk_events
from intake.services import get_intake_settings
from issues.models import Issue

pytestmark = pytest.mark.django_db(transaction=True)

APP = textwrap.dedent(
    """
    import json, sys
    import sentry_sdk

    options = json.loads(sys.argv[2])
    sentry_sdk.init(dsn=sys.argv[1], default_integrations=False, **options)

    def checkout(cart):
        # Built at run time, so that the source lines the SDK sends do not contain them.
        password = "hunter" + str(2)
        card = " ".join(["4111"] * 4)
        return cart["total"] * 2

    def pay(cart):
        try:
            checkout(cart)
        except KeyError as exc:
            raise RuntimeError("payment failed") from exc

    scenario = sys.argv[3]
    if scenario == "exception":
        for _ in range(int(sys.argv[4]) if len(sys.argv) > 4 else 1):
            try:
                checkout({})
            except Exception:
                sentry_sdk.capture_exception()
    elif scenario == "chained":
        try:
            pay({})
        except Exception:
            sentry_sdk.capture_exception()
    elif scenario == "message":
        sentry_sdk.capture_message("Disk 93% full on db-1", level="warning")
        sentry_sdk.capture_message("Disk 97% full on db-1", level="warning")
    elif scenario == "fingerprint":
        for region in ("eu", "us"):
            with sentry_sdk.new_scope() as scope:
                scope.fingerprint = ["payment-gateway-timeout"]
                sentry_sdk.capture_message(f"Gateway timeout in {region}")
    elif scenario == "attachment":
        with sentry_sdk.new_scope() as scope:
            scope.add_attachment(bytes=b"line 1\\nline 2\\n", filename="app.log")
            try:
                checkout({})
            except Exception:
                sentry_sdk.capture_exception()
    elif scenario == "burst":
        for i in range(10):
            sentry_sdk.capture_message(f"burst {i}")
            sentry_sdk.flush(5)
    sentry_sdk.flush(10)
    client = sentry_sdk.get_client()
    print(json.dumps({"rate_limited": bool(getattr(client.transport, "_disabled_until", {}))}))
    """
)


@pytest.fixture
def dsn(live_server, project, manager):
    key = create_dsn_key(project, name="Shop backend", actor=manager)
    host = live_server.url.split("://", 1)[1]
    return f"http://{key.public_key}@{host}/{project.pk}"


def run_app(dsn: str, scenario: str, *args: str, **options) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", APP, dsn, json.dumps(options), scenario, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_an_exception_becomes_one_issue_with_its_stack_trace(client, dsn, project, reporter):
    run_app(dsn, "exception", "3")
    assert SdkEvent.objects.count() == 3
    assert process_sdk_events() == 3
    issue = Issue.objects.get(project=project)
    assert issue.title == "KeyError: 'total'"
    group = EventGroup.objects.get(issue=issue)
    assert group.count == 3 and group.source == "sdk"
    client.force_login(reporter)
    page = client.get(reverse("issue_detail", args=[issue.key])).text
    assert "KeyError" in page and "checkout" in page
    assert "return cart[&quot;total&quot;] * 2" in page
    # Scrubbed before storing: the local password and the card number never reach the page.
    assert "hunter2" not in page and "4111 1111 1111 1111" not in page
    stored = json.dumps(list(SdkEvent.objects.values_list("payload", flat=True)))
    assert "hunter2" not in stored and "4111 1111 1111 1111" not in stored


def test_chained_exceptions_are_shown_outermost_first(client, dsn, project, reporter):
    run_app(dsn, "chained")
    process_sdk_events()
    issue = Issue.objects.get(project=project)
    assert issue.title == "RuntimeError: payment failed"
    client.force_login(reporter)
    page = client.get(reverse("issue_detail", args=[issue.key])).text
    assert page.index("RuntimeError") < page.index("KeyError")


def test_messages_group_by_normalised_text(dsn, project):
    run_app(dsn, "message")
    process_sdk_events()
    group = EventGroup.objects.get(project=project)
    assert group.count == 2  # "93%" and "97%" differ only in a number
    assert group.issue.severity == get_intake_settings(project).severity_for("warning")


def test_a_custom_fingerprint_groups_different_messages(dsn, project):
    run_app(dsn, "fingerprint")
    process_sdk_events()
    assert EventGroup.objects.get(project=project).count == 2
    assert Issue.objects.filter(project=project).count() == 1


def test_gzip_bodies_and_attachments_are_accepted(dsn, project):
    run_app(dsn, "attachment", _experiments={"transport_compression_algo": "gzip"})
    assert SdkEvent.objects.count() == 1
    process_sdk_events()
    assert Issue.objects.get(project=project).title == "KeyError: 'total'"


def test_over_the_rate_limit_the_sdk_backs_off(dsn, project):
    cfg = get_intake_settings(project)
    cfg.rate_limit_per_minute = 2
    cfg.save(update_fields=["rate_limit_per_minute"])
    # The limit counts in fixed one-minute windows: start the burst early in one.
    if time.time() % 60 > 40:
        time.sleep(61 - time.time() % 60)
    result = run_app(dsn, "burst")
    assert result["rate_limited"] is True  # the SDK read Retry-After / X-Sentry-Rate-Limits
    assert SdkEvent.objects.count() == 2


def test_a_revoked_dsn_is_refused(dsn, project):
    from intake.models import DsnKey

    key = DsnKey.objects.get()
    key.revoked_at = key.created_at
    key.save(update_fields=["revoked_at"])
    run_app(dsn, "exception")
    assert not SdkEvent.objects.exists()

"""The real @sentry/node SDK (npm, run by Node) reporting to a live Resolve: the exception is
one issue with its title and stack frames.

The SDK is pinned in tests/intake/node/package-lock.json and installed there with `npm ci`
when node_modules is missing. Without node/npm on the machine the test is skipped, except
under CI=true, where it fails: CI must exercise the real SDK."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse

from intake.models import EventGroup, SdkEvent
from intake.sdk import create_dsn_key, process_sdk_events
from issues.models import Issue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="session")
def node_sdk() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        reason = "@sentry/node needs Node.js and npm on PATH (apt-get install nodejs npm)."
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must not skip: {reason}")
        pytest.skip(reason)
    if not (NODE_DIR / "node_modules" / "@sentry" / "node" / "package.json").exists():
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"npm ci failed in {NODE_DIR}:\n{result.stderr}"
    return node


@pytest.fixture
def dsn(live_server, project, manager):
    key = create_dsn_key(project, name="Shop frontend server", actor=manager)
    host = live_server.url.split("://", 1)[1]
    return f"http://{key.public_key}@{host}/{project.pk}"


def run_node(node: str, dsn: str, release: str = "shop-web@1.4.0") -> None:
    result = subprocess.run(
        [node, str(NODE_DIR / "app.js"), dsn, release],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"flushed": True}


def test_a_node_exception_becomes_an_issue_with_its_frames(
    client, node_sdk, dsn, project, reporter
):
    run_node(node_sdk, dsn)
    run_node(node_sdk, dsn)
    assert SdkEvent.objects.count() == 2
    assert process_sdk_events() == 2
    issue = Issue.objects.get(project=project)
    assert issue.title == "TypeError: Cannot read properties of undefined (reading 'length')"
    assert issue.affected_version.name == "shop-web@1.4.0"
    group = EventGroup.objects.get(issue=issue)
    assert group.count == 2 and group.source == "sdk"
    payload = SdkEvent.objects.first().payload
    assert payload["sdk"]["name"] == "sentry.javascript.node"
    client.force_login(reporter)
    page = client.get(reverse("issue_detail", args=[issue.key])).text
    assert "TypeError" in page
    # The application's frames, most recent call last: checkout, then parseCart, in app.js.
    assert page.index("<code>checkout</code>") < page.index("<code>parseCart</code>")
    assert "app.js" in page
    frames = payload["exception"]["values"][-1]["stacktrace"]["frames"]
    in_app = [f["function"] for f in frames if f.get("in_app")]
    assert in_app[-2:] == ["checkout", "parseCart"]

"""An SDK error for a Fixed issue reopens it only when it returns in a newer release: the
release it was fixed in is the newest one it was seen in before the fix; the same or an
older release is an old deployment still running and only counts."""

import json
import uuid

import pytest

from intake.models import EventGroup, Regression
from intake.sdk import create_dsn_key, process_sdk_events
from intake.services import REOPEN_STATUS, release_version
from issues.models import Issue, Status
from workflows.services import transition_issue

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def send(client, project, manager):
    key = create_dsn_key(project, name="Shop", actor=manager)

    def _send(release: str) -> None:
        event = {
            "event_id": uuid.uuid4().hex,
            "level": "error",
            "platform": "python",
            "release": release,
            "exception": {"values": [{"type": "ZeroDivisionError", "value": "division by zero"}]},
        }
        response = client.post(
            f"/api/{project.pk}/store/?sentry_key={key.public_key}",
            json.dumps(event),
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        process_sdk_events()

    return _send


@pytest.fixture
def fixed_issue(send, project, manager, developer, tester):
    send("shop@1.2.0")
    send("shop@1.3.0")
    issue = Issue.objects.get(project=project)
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    transition_issue(issue, Status.REVISE, actor=developer)
    transition_issue(issue, Status.RETEST, actor=developer, fix_summary="Guard b == 0")
    transition_issue(issue, Status.FIXED, actor=tester)
    return issue


@pytest.mark.parametrize("release", ["shop@1.3.0", "shop@1.2.0", "shop@1.1.9", "shop@1.3.0-rc.1"])
def test_the_fixed_release_or_an_older_one_only_counts(send, fixed_issue, release):
    send(release)
    fixed_issue.refresh_from_db()
    assert fixed_issue.status == Status.FIXED
    assert not Regression.objects.exists()
    assert EventGroup.objects.get().count == 3


@pytest.mark.parametrize(
    "release",
    [
        "shop@1.3.1",
        "shop@1.10.0",  # 1.10 > 1.3: versions, not strings
        "3f9c2a1",  # a git SHA has no order: a regression must not go unnoticed
        "other@0.1.0",  # another package: cannot tell, so it reopens
        "",  # no release sent
    ],
)
def test_a_newer_or_unordered_release_reopens(send, fixed_issue, release):
    send(release)
    fixed_issue.refresh_from_db()
    assert fixed_issue.status == REOPEN_STATUS
    assert Regression.objects.get().old_issue == fixed_issue


def test_an_old_release_after_the_fix_does_not_raise_the_fixed_in_release(send, fixed_issue):
    send("shop@1.3.0")  # after the fix, from an old deployment: counts only
    send("shop@1.3.1")  # the fix's release is still 1.3.0: this one reopens
    fixed_issue.refresh_from_db()
    assert fixed_issue.status == REOPEN_STATUS


def test_release_versions():
    assert release_version("shop-web@1.4.0-rc.1") < release_version("shop-web@1.4.0")
    assert release_version("v2.0") == ("", release_version("2.0.0")[1])
    assert release_version("deadbeef") is None

"""One outbox dispatch (a broker round trip on the request's path) per transaction, however
many events the transaction records."""

import pytest

from issues.services import add_comment
from notifications import services
from tests.factories import make_issue

pytestmark = pytest.mark.django_db


def _dispatches(callbacks) -> int:
    return sum(1 for callback in callbacks if callback is services._publish_outbox)


def test_filing_an_issue_queues_the_outbox_once(
    project, reporter, developer, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(services.queueing, "_publish", lambda task, *args: sent.append(task.name))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        # created, the reporter and the owner watching, the SLA clock: several events
        issue = make_issue(project, reporter, owner=developer)
    assert issue.events.count() >= 3
    assert _dispatches(callbacks) == 1
    assert sent == ["notifications.tasks.process_outbox"]


def test_a_comment_with_a_mention_queues_the_outbox_once(
    project, reporter, developer, django_capture_on_commit_callbacks
):
    issue = make_issue(project, reporter)
    with django_capture_on_commit_callbacks() as callbacks:
        add_comment(issue, author=developer, body="Looking into it @reporter")
    assert _dispatches(callbacks) == 1


def test_a_rolled_back_savepoint_takes_its_dispatch_with_it(
    project, reporter, django_capture_on_commit_callbacks
):
    from django.db import transaction

    with django_capture_on_commit_callbacks() as callbacks:
        try:
            with transaction.atomic():
                make_issue(project, reporter)
                raise RuntimeError("undo")
        except RuntimeError:
            pass
        make_issue(project, reporter, title="Kept")
    assert _dispatches(callbacks) == 1

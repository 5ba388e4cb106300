"""Twenty concurrent transitions of one issue: one legal sequence, one history entry each."""

import threading

import pytest
from django.db import connections

from issues.models import EventKind, IssueEvent, Status
from tests.factories import make_issue
from workflows.services import WorkflowError, transition_issue
from workflows.transitions import find_transition

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_concurrent_transitions_form_one_legal_sequence(
    project, manager, developer, reporter
):
    issue = make_issue(project, reporter, title="Race me")
    barrier = threading.Barrier(20)
    accepted, refused, crashed = [], [], []

    def attempt(n: int) -> None:
        try:
            barrier.wait()
            from issues.models import Issue

            seen = Issue.objects.get(pk=issue.pk)  # a stale read for most threads
            before = seen.status  # transition_issue updates the instance it is given
            if before == Status.NEW:
                to, data = Status.ASSIGNED, {"owner": developer}
            else:
                to, data = Status.NEW, {"reason": f"thread {n}"}
            try:
                transition_issue(seen, to, actor=manager, expected_status=before, **data)
                accepted.append((str(before), str(to)))
            except WorkflowError:
                refused.append(n)
        except Exception as exc:  # anything but a clean refusal fails the test
            crashed.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert crashed == []
    assert len(accepted) + len(refused) == 20
    assert accepted  # at least one went through
    history = list(
        IssueEvent.objects.filter(issue=issue, kind=EventKind.TRANSITIONED)
        .order_by("created_at", "id")
        .values_list("old_value", "new_value")
    )
    assert len(history) == len(accepted)  # one entry per accepted request, none for refusals
    status = Status.NEW
    for old, new in history:  # one unbroken, legal chain from New
        assert old == status
        assert find_transition(old, new) is not None
        status = new
    issue.refresh_from_db()
    assert issue.status == status
    assert sorted(accepted) == sorted(history)

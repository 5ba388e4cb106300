"""Two people move the same issue at the same moment: exactly one wins, the other is told."""

import threading

import pytest
from django.db import connection

from issues.models import EventKind, Issue, IssueEvent, Status
from workflows.services import StaleTransition, transition_issue


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_transitions_exactly_one_wins(issue, cast, walk):
    walk(issue, Status.RETEST)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def attempt(who, to, data):
        seen = Issue.objects.get(pk=issue.pk)  # both saw Retest
        barrier.wait()
        try:
            transition_issue(seen, to, actor=cast[who], **data)
            results[who] = "won"
        except StaleTransition as e:
            results[who] = str(e)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=attempt, args=("tester", Status.FIXED, {})),
        threading.Thread(target=attempt, args=("manager", Status.REVISE, {"failure": "No"})),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(v == "won" for v in results.values()) == [False, True]
    loser = next(v for v in results.values() if v != "won")
    final = Issue.objects.get(pk=issue.pk)
    assert f"WEB-1 was moved to {final.get_status_display()} by" in loser
    # One audit record for the winner, nothing half-done for the loser.
    moves = IssueEvent.objects.filter(issue=issue, kind=EventKind.TRANSITIONED)
    assert [e.old_value for e in moves].count("retest") == 1
    assert final.status in (Status.FIXED, Status.REVISE)
    assert final.status_periods.filter(left_at__isnull=True).count() == 1

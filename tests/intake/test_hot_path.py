"""The intake hot path outside a test transaction (as under gunicorn): a repeat of a group
with an open issue is one autocommit statement, prepared once per connection; a dead
persistent connection is replaced without failing the request; revocation is immediate."""

import psycopg
import pytest
from django.db import connection

from intake.models import DailyCount, EventGroup, Occurrence, Regression, RegressionPolicy
from intake.services import revoke_intake_token
from issues.models import Issue, Status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_repeats_of_an_open_issue_are_counted_exactly_without_a_transaction(send):
    assert connection.get_autocommit() and not connection.in_atomic_block
    assert send({"title": "Checkout times out", "event_id": "e-1"}).status_code == 202
    for n in range(2, 5):
        response = send({"title": "Checkout times out", "event_id": f"e-{n}"})
        assert response.status_code == 202
        assert response.json()["events"][0] == {
            "group_id": EventGroup.objects.get().pk,
            "fingerprint": EventGroup.objects.get().fingerprint,
            "count": n,
            "issue": "WEB-1",
            "created_issue": False,
            "duplicate": False,
            "regression": None,
        }
    # A repeated client event id: refused whole, answered with the first recording.
    again = send({"title": "Checkout times out", "event_id": "e-3"})
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    assert EventGroup.objects.get().count == 4
    assert Occurrence.objects.count() == 4
    assert DailyCount.objects.get().count == 4
    assert Issue.objects.count() == 1
    # The token lookup and the repeat were planned once on this connection and reused.
    statements = _prepared_statements()
    assert any("intake_intaketoken" in s for s in statements)
    assert any("intake_eventgroup" in s and "EXISTS" in s for s in statements)


def test_a_repeat_after_the_issue_was_fixed_still_files_a_regression(send, intake_settings):
    intake_settings.regression_policy = RegressionPolicy.NEW_ISSUE
    intake_settings.save()
    send({"title": "Checkout times out"})
    Issue.objects.update(status=Status.FIXED)  # set-up only: the workflow owns statuses
    event = send({"title": "Checkout times out"}).json()["events"][0]
    assert (event["issue"], event["created_issue"], event["regression"]) == (
        "WEB-2",
        True,
        "new_issue",
    )
    # Later repeats count on the new, open issue (the one-statement path again).
    assert send({"title": "Checkout times out"}).json()["events"][0]["issue"] == "WEB-2"
    assert EventGroup.objects.get().count == 3
    assert Regression.objects.count() == 1


def test_without_prepared_statements_nothing_is_prepared(send, settings):
    settings.INTAKE_PREPARED_STATEMENTS = False
    connection.close()
    send({"title": "Checkout times out"})
    assert send({"title": "Checkout times out"}).json()["events"][0]["count"] == 2
    assert _prepared_statements() == []


def test_a_dead_persistent_connection_is_replaced_without_failing_the_event(send):
    send({"title": "Checkout times out"})
    dead_pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(
        dbname=connection.settings_dict["NAME"],
        **{k: v for k, v in params.items() if k in ("host", "port", "user", "password")},
        autocommit=True,
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [dead_pid])
    response = send({"title": "Checkout times out"})
    assert response.status_code == 202, response.content
    assert response.json()["events"][0]["count"] == 2
    assert connection.connection.info.backend_pid != dead_pid


def test_a_revoked_token_is_refused_on_the_very_next_request(send, intake_token, manager):
    assert send({"title": "before"}).status_code == 202
    assert send({"title": "before"}).status_code == 202
    revoke_intake_token(intake_token[0], actor=manager)
    assert send({"title": "after"}).status_code == 401
    assert Occurrence.objects.count() == 2

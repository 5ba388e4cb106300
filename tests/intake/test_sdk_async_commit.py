"""SDK events commit asynchronously (no WAL flush per event), and only they: the setting is
local to the event's transaction, so the web requests that later use the same persistent
connection keep synchronous commits."""

import json
import uuid

import pytest
from django.db import connection

from intake.models import SdkEvent
from intake.sdk import create_dsn_key
from workflows.issue_use_cases import create_issue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def _envelope(*event_ids: str) -> bytes:
    lines = [b"{}"]
    for event_id in event_ids:
        payload = json.dumps({"event_id": event_id, "message": "Cart total is NaN"}).encode()
        lines += [json.dumps({"type": "event"}).encode(), payload]
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("async_commit", [True, False])
def test_events_are_stored_and_the_connection_keeps_synchronous_commits(
    client, project, manager, settings, async_commit
):
    settings.SDK_ASYNC_COMMIT = async_commit
    key = create_dsn_key(project, name="Shop", actor=manager)
    auth = {"HTTP_X_SENTRY_AUTH": f"Sentry sentry_version=7, sentry_key={key.public_key}"}
    one, two, three = (uuid.uuid4().hex for _ in range(3))
    assert _synchronous_commit() == "on"
    # One event (autocommit, what SDKs send), then an envelope of two (one transaction).
    for body in (_envelope(one), _envelope(two, three)):
        response = client.generic(
            "POST",
            f"/api/{project.pk}/envelope/",
            body,
            content_type="application/x-sentry-envelope",
            **auth,
        )
        assert response.status_code == 200
        assert connection.get_autocommit() and not connection.in_atomic_block
        assert _synchronous_commit() == "on"
    assert set(SdkEvent.objects.values_list("event_id", flat=True)) == {one, two, three}
    # The next write on this connection (an issue filed on a page) is an ordinary commit.
    create_issue(project, reporter=manager, title="Filed after the events")
    assert _synchronous_commit() == "on"

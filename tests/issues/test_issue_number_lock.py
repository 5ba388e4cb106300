"""Filing an issue holds the project's key counter until it commits; rows that only reference
the project (a stored mail message, an SDK event) must not wait for it."""

import threading
import uuid

import pytest
from django.db import connection, transaction
from django.utils import timezone

from intake.models import SdkEvent
from workflows.issue_use_cases import create_issue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_a_filing_in_progress_does_not_block_rows_that_reference_the_project(project, manager):
    holding, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def file_and_wait() -> None:
        try:
            with transaction.atomic():
                create_issue(project, reporter=manager, title="Filed slowly")
                holding.set()
                release.wait(10)
        except BaseException as exc:  # shown by the assertion below
            failures.append(exc)
            holding.set()
        finally:
            connection.close()

    filer = threading.Thread(target=file_and_wait)
    filer.start()
    try:
        assert holding.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                # Blocked on the project's row, this would fail after 2 s instead of waiting.
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            SdkEvent.objects.create(
                project=project,
                event_id=uuid.uuid4().hex,
                received_at=timezone.now(),
                payload={"message": "stored while an issue is being filed"},
                size=1,
            )
    finally:
        release.set()
        filer.join(15)
    assert not failures
    assert project.issues.filter(title="Filed slowly").exists()
    assert SdkEvent.objects.filter(project=project).count() == 1

import threading

import pytest
from django.db import connection

from issues.models import Issue
from tests.factories import make_issue


@pytest.mark.django_db
def test_keys_are_sequential_per_project(project, other_project, reporter, outsider):
    a = make_issue(project, reporter)
    b = make_issue(project, reporter)
    c = make_issue(other_project, outsider)
    assert (a.key, b.key, c.key) == ("WEB-1", "WEB-2", "OPS-1")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creators_get_distinct_gapless_keys(project, reporter):
    errors = []

    def file_issues():
        try:
            for _ in range(10):
                make_issue(project, reporter)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=file_issues) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    numbers = sorted(Issue.objects.filter(project=project).values_list("number", flat=True))
    assert numbers == list(range(1, 61))


@pytest.mark.django_db
def test_status_cannot_be_saved_directly(project, reporter):
    from issues.models import StatusChangeRefused

    issue = Issue.objects.get(pk=make_issue(project, reporter).pk)
    issue.status = "closed"
    with pytest.raises(StatusChangeRefused):
        issue.save()
    issue.refresh_from_db()
    assert issue.status == "new"

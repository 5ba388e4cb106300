import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from issues.models import IssueEvent
from issues.services import add_attachment, add_comment
from notifications.models import EmailStatus, Kind, Mode, Notification, NotificationPreference
from notifications.services import process_outbox
from tests.factories import make_issue
from workflows.issue_use_cases import update_issue
from workflows.services import transition_issue

pytestmark = pytest.mark.django_db


def _kinds():
    return set(Notification.objects.values_list("recipient__username", "kind"))


def test_assignment_reaches_the_new_owner_by_email_not_the_actor(
    project,
    manager,
    developer,
    reporter,
    eager_celery,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    issue = make_issue(project, reporter, title="Cart badge stale")
    with django_capture_on_commit_callbacks(execute=True):
        update_issue(issue, actor=manager, changes={"owner": developer})
    assert _kinds() == {("developer", Kind.ASSIGNED)}
    assert [m.to for m in mailoutbox] == [[developer.email]]
    mail = mailoutbox[0]
    assert mail.subject == f"[Resolve] {issue.key} assigned to you — Cart badge stale"
    assert "Maya" not in mail.body and "Manager assigned" in mail.body
    assert "Manager assigned <strong>" in mail.alternatives[0].content
    assert not IssueEvent.objects.filter(notified_at__isnull=True).exists()


def test_self_assignment_tells_nobody(project, developer, reporter):
    issue = make_issue(project, reporter)
    update_issue(issue, actor=developer, changes={"owner": developer})
    process_outbox()
    assert not Notification.objects.exists()


def test_status_change_goes_to_watchers_except_the_actor(
    project, manager, developer, tester, reporter, outsider
):
    issue = make_issue(project, reporter)
    transition_issue(issue, "assigned", actor=manager, owner=developer)
    transition_issue(issue, "revise", actor=developer)
    transition_issue(issue, "retest", actor=developer, fix_summary="Raised the pool size")
    process_outbox()
    Notification.objects.all().delete()
    # An outsider left watching (e.g. removed from the project since) is not told.
    issue.watchers.add(developer, tester, reporter, outsider)
    transition_issue(issue, "fixed", actor=tester)
    process_outbox()
    process_outbox()
    # The outsider (another project) is not told either: access rules apply to email too.
    assert _kinds() == {("developer", Kind.STATUS_CHANGED), ("reporter", Kind.STATUS_CHANGED)}
    assert "from Retest to Fixed" in Notification.objects.first().summary


def test_transition_that_assigns_tells_the_owner_once(project, manager, developer, reporter):
    issue = make_issue(project, reporter)
    issue.watchers.add(developer, reporter)
    transition_issue(issue, "assigned", actor=manager, owner=developer)
    process_outbox()
    assert _kinds() == {("developer", Kind.ASSIGNED), ("reporter", Kind.STATUS_CHANGED)}


def test_assign_through_the_workflow_notifies_the_owner_once(project, manager, developer, reporter):
    from workflows.services import transition_issue

    issue = make_issue(project, reporter)
    transition_issue(issue, "assigned", actor=manager, owner=developer)
    process_outbox()
    assigned = Notification.objects.filter(recipient=developer, kind=Kind.ASSIGNED)
    assert assigned.count() == 1  # not once for the transition and again for the owner field


def test_comment_and_mentions(project, manager, developer, tester, reporter):
    issue = make_issue(project, reporter)
    issue.watchers.add(developer, reporter, tester)
    add_comment(issue, author=reporter, body="@tester @manager @reporter can you look?")
    process_outbox()
    assert _kinds() == {
        ("developer", Kind.COMMENTED),
        ("tester", Kind.MENTIONED),
        ("manager", Kind.MENTIONED),
    }


def test_preferences_are_respected_but_mentions_always_email(project, developer, tester, reporter):
    NotificationPreference.objects.create(user=developer, kind=Kind.COMMENTED, mode=Mode.OFF)
    NotificationPreference.objects.create(user=tester, kind=Kind.COMMENTED, mode=Mode.DIGEST)
    NotificationPreference.objects.create(user=reporter, kind=Kind.MENTIONED, mode=Mode.OFF)
    issue = make_issue(project, reporter)
    issue.watchers.add(developer, tester)
    add_comment(issue, author=developer, body="@reporter which browser was it?")
    add_comment(issue, author=reporter, body="Firefox 140.")
    process_outbox()
    rows = set(Notification.objects.values_list("recipient__username", "kind", "email_status"))
    assert rows == {
        ("tester", Kind.COMMENTED, EmailStatus.BATCHED),
        ("reporter", Kind.MENTIONED, EmailStatus.PENDING),
    }


def test_rolled_back_change_sends_nothing(
    project,
    manager,
    developer,
    reporter,
    eager_celery,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    issue = make_issue(project, reporter)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            update_issue(issue, actor=manager, changes={"owner": developer})
            raise RuntimeError("the edit failed")
    assert not Notification.objects.exists()
    assert mailoutbox == []


def test_other_events_are_marked_processed_without_notifications(project, reporter, developer):
    issue = make_issue(project, reporter)
    issue.watchers.add(developer)
    add_attachment(issue, actor=reporter, upload=SimpleUploadedFile("trace.txt", b"Traceback ..."))
    assert process_outbox() >= 1
    assert not IssueEvent.objects.filter(notified_at__isnull=True).exists()
    assert not Notification.objects.exists()

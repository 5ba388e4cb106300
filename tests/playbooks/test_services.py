"""Templates and playbooks below the browser: versioning, the copy on Assign, audited ticks,
the transition guard, access and bad input."""

import pytest

from issues.models import EventKind, IssueEvent, IssueType, Label, Severity, Status
from playbooks.models import ChecklistItem, IssueChecklist, TemplateVersion
from playbooks.selectors import current_version, with_checklist_progress
from playbooks.services import (
    PlaybookError,
    TemplateDraft,
    record_filed_with,
    save_template,
    tick_item,
)
from tests.factories import make_issue
from workflows.activity import describe_event
from workflows.errors import WorkflowError
from workflows.services import transition_issue

pytestmark = pytest.mark.django_db

SECURITY = TemplateDraft(
    description="## Affected systems\n\n## Exposure\n",
    severity=Severity.CRITICAL,
    playbook_name="Security response",
    items=[
        ("Rotate affected credentials", True),
        ("Notify the DPO within 72 h", True),
        ("Write the post-mortem", False),
    ],
    complete_before=Status.FIXED,
    complete_min_severity=Severity.CRITICAL,
)


def _security_template(project, manager):
    return save_template(project, IssueType.SECURITY, actor=manager, draft=SECURITY)


def _to_retest(issue, manager, developer):
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    transition_issue(issue, Status.REVISE, actor=developer)
    transition_issue(issue, Status.RETEST, actor=developer, fix_summary="Rotated keys")


def test_editing_a_template_makes_a_new_version_and_filed_issues_keep_theirs(
    project, manager, developer, reporter
):
    first = _security_template(project, manager)
    issue = make_issue(project, reporter, type=IssueType.SECURITY)
    record_filed_with(issue, first)
    second = save_template(
        project,
        IssueType.SECURITY,
        actor=manager,
        draft=TemplateDraft(description="## New", items=[("Only this", False)]),
    )
    assert (first.number, second.number) == (1, 2)
    assert current_version(project, IssueType.SECURITY) == second
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    items = list(
        ChecklistItem.objects.filter(checklist__issue=issue).values_list("text", flat=True)
    )
    assert items == [text for text, _ in SECURITY.items]
    first.refresh_from_db()
    assert first.description == SECURITY.description  # versions never change


def test_playbook_copied_on_assign_once_and_shown_in_timeline(
    project, manager, developer, reporter
):
    _security_template(project, manager)
    issue = make_issue(project, reporter, type=IssueType.SECURITY)
    assert not IssueChecklist.objects.filter(issue=issue).exists()
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    checklist = IssueChecklist.objects.get(issue=issue)
    assert checklist.progress == "0/3"
    event = IssueEvent.objects.filter(issue=issue, field="playbook").get()
    assert "attached the playbook" in describe_event(event).sentence
    transition_issue(issue, Status.NEW, actor=manager, reason="wrong owner")
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    assert IssueChecklist.objects.filter(issue=issue).count() == 1


def test_other_types_get_no_checklist(project, manager, developer, reporter):
    _security_template(project, manager)
    issue = make_issue(project, reporter, type=IssueType.BUG)
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    assert not IssueChecklist.objects.filter(issue=issue).exists()


def test_ticks_are_audited_with_the_items_text(project, manager, developer, reporter):
    _security_template(project, manager)
    issue = make_issue(project, reporter, type=IssueType.SECURITY)
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    item = ChecklistItem.objects.get(checklist__issue=issue, position=0)
    tick_item(issue, item.pk, actor=developer, done=True)
    tick_item(issue, item.pk, actor=developer, done=True)  # idempotent: one record
    item.refresh_from_db()
    assert item.done_by == developer and item.done_at is not None
    tick_item(issue, item.pk, actor=manager, done=False)
    sentences = [
        str(describe_event(e).sentence)
        for e in IssueEvent.objects.filter(issue=issue, kind=EventKind.CHANGED, field="playbook")
    ]
    assert sentences[1:] == [
        "ticked “Rotate affected credentials” on the playbook",
        "unticked “Rotate affected credentials” on the playbook",
    ]
    listed = with_checklist_progress(issue.__class__.objects.filter(pk=issue.pk)).get()
    assert (listed.checklist_done, listed.checklist_total) == (0, 3)


def test_who_may_tick(project, manager, developer, tester, reporter, outsider):
    _security_template(project, manager)
    issue = make_issue(project, reporter, type=IssueType.SECURITY)
    transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    item = ChecklistItem.objects.get(checklist__issue=issue, position=0)
    for who in (tester, reporter, outsider):
        with pytest.raises(PlaybookError) as refused:
            tick_item(issue, item.pk, actor=who, done=True)
        assert refused.value.status_code == 403
    item.refresh_from_db()
    assert item.done_at is None


def test_an_item_of_another_issue_is_not_found(project, manager, developer, reporter):
    _security_template(project, manager)
    one = make_issue(project, reporter, type=IssueType.SECURITY)
    two = make_issue(project, reporter, type=IssueType.SECURITY)
    for issue in (one, two):
        transition_issue(issue, Status.ASSIGNED, actor=manager, owner=developer.pk)
    other_item = ChecklistItem.objects.get(checklist__issue=two, position=0)
    with pytest.raises(PlaybookError) as refused:
        tick_item(one, other_item.pk, actor=manager, done=True)
    assert refused.value.status_code == 404


def test_guard_refuses_fixed_until_required_items_are_ticked(
    project, manager, developer, tester, reporter
):
    _security_template(project, manager)
    issue = make_issue(project, reporter, type=IssueType.SECURITY, severity=Severity.CRITICAL)
    _to_retest(issue, manager, developer)
    with pytest.raises(WorkflowError, match="Complete the playbook first: 2 items still open"):
        transition_issue(issue, Status.FIXED, actor=tester)
    issue.refresh_from_db()
    assert issue.status == Status.RETEST
    for position in (0, 1):  # the optional third item is not needed
        item = ChecklistItem.objects.get(checklist__issue=issue, position=position)
        tick_item(issue, item.pk, actor=developer, done=True)
    transition_issue(issue, Status.FIXED, actor=tester)
    assert issue.status == Status.FIXED


def test_guard_only_for_the_chosen_severity(project, manager, developer, tester, reporter):
    _security_template(project, manager)
    issue = make_issue(project, reporter, type=IssueType.SECURITY, severity=Severity.MAJOR)
    _to_retest(issue, manager, developer)
    transition_issue(issue, Status.FIXED, actor=tester)
    assert issue.status == Status.FIXED


@pytest.mark.parametrize(
    ("draft", "field"),
    [
        (TemplateDraft(items=[("", False)]), "items"),
        (TemplateDraft(items=[("x" * 201, False)]), "items"),
        (TemplateDraft(priority=9), "priority"),
        (TemplateDraft(label_names=["nope"]), "labels"),
        (TemplateDraft(shown_fields=["Not A Slug"]), "shown_fields"),
        (TemplateDraft(complete_before=Status.FIXED), "complete_before"),
        (TemplateDraft(items=[("a", False)], complete_before="bogus"), "complete_before"),
    ],
)
def test_bad_input_saves_nothing(project, manager, draft, field):
    with pytest.raises(PlaybookError) as refused:
        save_template(project, IssueType.BUG, actor=manager, draft=draft)
    assert refused.value.field == field
    assert not TemplateVersion.objects.exists()


def test_only_managers_of_the_project_edit_templates(project, other_project, developer, manager):
    Label.objects.create(project=project, name="security")
    with pytest.raises(PlaybookError):
        save_template(project, IssueType.BUG, actor=developer, draft=TemplateDraft())
    with pytest.raises(PlaybookError):
        save_template(other_project, IssueType.BUG, actor=manager, draft=TemplateDraft())
    assert not TemplateVersion.objects.exists()


def test_filed_with_refuses_another_projects_template(project, other_project, manager, reporter):
    version = _security_template(project, manager)
    other_issue = make_issue(other_project, reporter, type=IssueType.SECURITY)
    with pytest.raises(PlaybookError):
        record_filed_with(other_issue, version)

"""Every row of the transition table, allowed and refused, per role; required fields;
per-project overrides; audit records."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from issues.models import EventKind, Issue, IssueEvent, Severity, Status, StatusChangeRefused
from tests.factories import make_issue
from workflows.services import (
    StaleTransition,
    TransitionForbidden,
    WorkflowError,
    set_transition_actors,
    transition_issue,
)
from workflows.transitions import TRANSITIONS, markdown_table

from .conftest import TARGET, data_for

PEOPLE = ["manager", "owner", "other_dev", "tester", "reporter", "outsider", "admin"]

# (transition, from) -> who may take it with the default table.
ALLOWED = {
    ("assign", Status.NEW): {"manager", "owner", "other_dev", "admin"},
    ("unassign", Status.ASSIGNED): {"manager", "owner", "admin"},
    ("start", Status.ASSIGNED): {"manager", "owner", "admin"},
    ("submit", Status.REVISE): {"owner"},
    ("fail", Status.RETEST): {"manager", "tester", "admin"},
    ("verify", Status.RETEST): {"manager", "tester", "admin"},
    ("close", Status.FIXED): {"manager", "reporter", "admin"},
    ("reopen", Status.CLOSED): {"manager", "reporter", "tester", "admin"},
    ("dismiss", Status.NEW): {"manager", "admin"},
    ("dismiss", Status.ASSIGNED): {"manager", "admin"},
    ("dismiss", Status.REVISE): {"manager", "admin"},
}

CASES = [(name, source, who) for (name, source) in ALLOWED for who in PEOPLE]


def test_the_cases_cover_every_row_of_the_table():
    rows = {(t.name, s) for t in TRANSITIONS for s in t.sources}
    assert rows == set(ALLOWED)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "source", "who"), CASES)
def test_each_row_per_role(name, source, who, issue, cast, walk):
    walk(issue, source)
    target = TARGET[name]
    events_before = IssueEvent.objects.filter(issue=issue).count()
    if who in ALLOWED[(name, source)]:
        saved = transition_issue(issue, target, actor=cast[who], **data_for(name, cast))
        assert saved.status == target == Issue.objects.get(pk=issue.pk).status
        event = IssueEvent.objects.filter(issue=issue, kind=EventKind.TRANSITIONED).last()
        assert (event.old_value, event.new_value, event.actor) == (source, target, cast[who])
        assert event.data["transition"] == name
    else:
        with pytest.raises(TransitionForbidden):
            transition_issue(issue, target, actor=cast[who], **data_for(name, cast))
        assert Issue.objects.get(pk=issue.pk).status == source
        assert IssueEvent.objects.filter(issue=issue).count() == events_before


@pytest.mark.django_db
def test_a_deactivated_account_takes_no_transition(issue, cast):
    """A Manager whose account was deactivated (left the team; a session or an API token
    still held) moves nothing: refused, the issue and its history unchanged."""
    manager = cast["manager"]
    manager.is_active = False
    manager.save(update_fields=["is_active"])
    events_before = IssueEvent.objects.filter(issue=issue).count()
    with pytest.raises(TransitionForbidden):
        transition_issue(issue, Status.CLOSED, actor=manager, **data_for("dismiss", cast))
    assert Issue.objects.get(pk=issue.pk).status == Status.NEW
    assert IssueEvent.objects.filter(issue=issue).count() == events_before


@pytest.mark.django_db
def test_statuses_without_a_row_are_refused(issue, cast):
    with pytest.raises(WorkflowError, match="cannot go from New to Fixed"):
        transition_issue(issue, Status.FIXED, actor=cast["manager"])
    with pytest.raises(WorkflowError, match="no status"):
        transition_issue(issue, "done", actor=cast["manager"])


@pytest.mark.django_db
def test_saving_the_status_directly_is_refused(issue):
    issue.status = Status.CLOSED
    with pytest.raises(StatusChangeRefused):
        issue.save()
    assert Issue.objects.get(pk=issue.pk).status == Status.NEW


@pytest.mark.django_db
def test_assign_needs_a_developer_of_the_project(issue, cast):
    with pytest.raises(WorkflowError, match="Choose an owner") as err:
        transition_issue(issue, Status.ASSIGNED, actor=cast["manager"])
    assert err.value.field == "owner"
    for not_a_dev in ("tester", "outsider", "manager"):
        with pytest.raises(WorkflowError, match="Developer of the project"):
            transition_issue(
                issue, Status.ASSIGNED, actor=cast["manager"], owner=cast[not_a_dev].pk
            )
    assert Issue.objects.get(pk=issue.pk).status == Status.NEW


@pytest.mark.django_db
def test_assign_sets_the_owner_and_records_it(issue, cast):
    transition_issue(issue, Status.ASSIGNED, actor=cast["manager"], owner=cast["owner"].pk)
    issue.refresh_from_db()
    assert issue.owner == cast["owner"]
    moved = IssueEvent.objects.get(issue=issue, kind=EventKind.TRANSITIONED)
    assert moved.data["owner_id"] == cast["owner"].pk
    owner_change = IssueEvent.objects.get(issue=issue, kind=EventKind.CHANGED, field="owner")
    assert owner_change.data == {
        "owner_id": cast["owner"].pk,
        "old_owner_id": None,
        "with_transition": True,
    }
    # The name people see, not the id (kept should the user be renamed or deleted).
    assert (owner_change.old_value, owner_change.new_value) == ("", str(cast["owner"]))
    assert cast["owner"] in issue.watchers.all()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "source", "field"),
    [
        ("unassign", Status.ASSIGNED, "reason"),
        ("submit", Status.REVISE, "fix_summary"),
        ("fail", Status.RETEST, "failure"),
        ("close", Status.FIXED, "resolution_summary"),
        ("reopen", Status.CLOSED, "reopen_reason"),
        ("dismiss", Status.NEW, "resolution"),
    ],
)
def test_required_fields(name, source, field, issue, cast, walk):
    walk(issue, source)
    who = {"submit": "owner", "fail": "tester"}.get(name, "manager")
    data = {**data_for(name, cast), field: "  "}
    with pytest.raises(WorkflowError) as err:
        transition_issue(issue, TARGET[name], actor=cast[who], **data)
    assert err.value.field == field
    assert Issue.objects.get(pk=issue.pk).status == source


@pytest.mark.django_db
def test_root_cause_and_lessons_required_for_major_but_not_minor(project, reporter, cast, walk):
    major = make_issue(project, reporter, severity=Severity.MAJOR)
    minor = make_issue(project, reporter, severity=Severity.MINOR)
    for issue in (major, minor):
        walk(issue, Status.FIXED)
    with pytest.raises(WorkflowError, match="Root-cause category is required") as err:
        transition_issue(major, Status.CLOSED, actor=cast["manager"], resolution_summary="Done")
    assert err.value.field == "root_cause"
    with pytest.raises(WorkflowError, match="Lessons learned is required"):
        transition_issue(
            major,
            Status.CLOSED,
            actor=cast["manager"],
            resolution_summary="Done",
            root_cause="code",
        )
    with pytest.raises(WorkflowError, match="root-cause category"):
        transition_issue(
            major,
            Status.CLOSED,
            actor=cast["manager"],
            resolution_summary="Done",
            root_cause="gremlins",
            lessons_learned="x",
        )
    transition_issue(minor, Status.CLOSED, actor=cast["manager"], resolution_summary="Done")
    minor.refresh_from_db()
    assert (minor.status, minor.resolution, minor.resolution_summary) == ("closed", "fixed", "Done")


@pytest.mark.django_db
def test_closure_analysis_is_kept_on_the_issue(issue, cast, walk):
    walk(issue, Status.CLOSED)
    issue.refresh_from_db()
    assert issue.resolution == "fixed"
    assert issue.root_cause == "configuration"
    assert issue.lessons_learned == "Load-test before release"
    assert Issue.objects.filter(lessons_learned__icontains="load-test").exists()


@pytest.mark.django_db
def test_duplicate_needs_the_original_of_the_same_project(
    project, other_project, reporter, outsider, issue, cast
):
    original = make_issue(project, reporter, title="The first report")
    foreign = make_issue(other_project, outsider)
    # An archived issue is hidden by the access selector: not an original either.
    archived = make_issue(project, reporter, title="Archived")
    Issue.objects.filter(pk=archived.pk).update(archived_at=archived.created_at)
    for bad in ("", "WEB-999", foreign.key, issue.key, archived.key):
        with pytest.raises(WorkflowError) as err:
            transition_issue(
                issue,
                Status.CLOSED,
                actor=cast["manager"],
                resolution="duplicate",
                duplicate_of=bad,
            )
        assert err.value.field == "duplicate_of"
    transition_issue(
        issue,
        Status.CLOSED,
        actor=cast["manager"],
        resolution="duplicate",
        duplicate_of=original.key.lower(),
    )
    issue.refresh_from_db()
    assert issue.resolution == "duplicate"
    assert issue.resolution_summary.startswith(f"Duplicate of {original.key}")
    event = IssueEvent.objects.filter(issue=issue, kind=EventKind.TRANSITIONED).last()
    assert event.data["duplicate_of"] == original.key


@pytest.mark.django_db
def test_dismiss_refuses_fixed_as_resolution(issue, cast):
    with pytest.raises(WorkflowError) as err:
        transition_issue(issue, Status.CLOSED, actor=cast["manager"], resolution="fixed")
    assert err.value.field == "resolution"


@pytest.mark.django_db
def test_unassign_clears_the_owner(issue, cast, walk):
    walk(issue, Status.ASSIGNED)
    transition_issue(issue, Status.NEW, actor=cast["owner"], reason="Not my area")
    issue.refresh_from_db()
    assert issue.owner is None
    assert IssueEvent.objects.filter(issue=issue, kind="changed", field="owner").count() == 2


@pytest.mark.django_db
def test_reopen_keeps_the_owner_or_asks_for_one(project, reporter, issue, cast, walk):
    walk(issue, Status.CLOSED)
    transition_issue(issue, Status.ASSIGNED, actor=cast["reporter"], reopen_reason="Again")
    issue.refresh_from_db()
    assert (issue.status, issue.owner, issue.resolution) == ("assigned", cast["owner"], "")

    unowned = make_issue(project, reporter)
    transition_issue(unowned, Status.CLOSED, actor=cast["manager"], resolution="invalid")
    with pytest.raises(WorkflowError, match="Choose an owner"):
        transition_issue(unowned, Status.ASSIGNED, actor=cast["manager"], reopen_reason="x")
    transition_issue(
        unowned,
        Status.ASSIGNED,
        actor=cast["manager"],
        reopen_reason="x",
        owner=cast["other_dev"].pk,
    )
    assert Issue.objects.get(pk=unowned.pk).owner == cast["other_dev"]


@pytest.mark.django_db
def test_owner_may_not_verify_even_when_a_project_lets_developers(project, issue, cast, walk):
    set_transition_actors(
        project, actor=cast["manager"], transition="verify", actors=["tester", "developer"]
    )
    walk(issue, Status.RETEST)
    with pytest.raises(TransitionForbidden, match="four eyes"):
        transition_issue(issue, Status.FIXED, actor=cast["owner"])
    transition_issue(issue, Status.FIXED, actor=cast["other_dev"])
    assert Issue.objects.get(pk=issue.pk).status == Status.FIXED


@pytest.mark.django_db
def test_project_override_changes_who_may(project, other_project, outsider, issue, cast, walk):
    set_transition_actors(project, actor=cast["manager"], transition="assign", actors=["manager"])
    with pytest.raises(TransitionForbidden, match="allowed for Manager"):
        transition_issue(issue, Status.ASSIGNED, actor=cast["owner"], owner=cast["owner"].pk)
    # Other projects keep the default.
    ops = make_issue(other_project, outsider)
    from projects.models import Membership, Role

    Membership.objects.create(project=other_project, user=cast["other_dev"], role=Role.DEVELOPER)
    transition_issue(ops, Status.ASSIGNED, actor=cast["other_dev"], owner=cast["other_dev"].pk)
    # Setting the default back removes the override.
    set_transition_actors(
        project, actor=cast["manager"], transition="assign", actors=["manager", "developer"]
    )
    transition_issue(issue, Status.ASSIGNED, actor=cast["owner"], owner=cast["owner"].pk)


@pytest.mark.django_db
def test_only_managers_change_overrides_and_never_to_nobody(project, cast):
    with pytest.raises(TransitionForbidden):
        set_transition_actors(project, actor=cast["tester"], transition="verify", actors=["tester"])
    with pytest.raises(WorkflowError):
        set_transition_actors(project, actor=cast["manager"], transition="verify", actors=[])
    with pytest.raises(WorkflowError):
        set_transition_actors(project, actor=cast["manager"], transition="fly", actors=["tester"])


@pytest.mark.django_db
def test_stale_transition_tells_who_moved_it(issue, cast, walk):
    walk(issue, Status.RETEST)
    seen_by_owner = Issue.objects.get(pk=issue.pk)
    transition_issue(issue, Status.REVISE, actor=cast["tester"], failure="Still broken")
    # The tester's page still says Retest; verifying now is stale.
    with pytest.raises(
        StaleTransition, match=r"WEB-1 was moved to Revise by tester at \d\d:\d\d; reload"
    ):
        transition_issue(seen_by_owner, Status.FIXED, actor=cast["tester"])
    assert Issue.objects.get(pk=issue.pk).status == Status.REVISE


@pytest.mark.django_db
def test_transition_bumps_the_version_and_updates_the_passed_instance(issue, cast):
    version = issue.version
    transition_issue(issue, Status.ASSIGNED, actor=cast["manager"], owner=cast["owner"].pk)
    assert issue.status == Status.ASSIGNED and issue.owner == cast["owner"]
    assert issue.version == version + 1
    issue.title = "Edited after the transition"
    issue.save()  # no StatusChangeRefused: the instance knows its new status


def test_markdown_table_lists_every_transition():
    table = markdown_table()
    assert table.count("\n") == len(TRANSITIONS) + 1
    assert "| Retest | Fixed | Verify fix | Manager, Tester — not the owner | — |" in table
    # What the README shows, row for row (who may, what is asked and when).
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    shown = readme.split("<!-- workflow-table:start -->")[1].split("<!-- workflow-table:end -->")
    assert table == shown[0].strip()


def test_workflow_table_draws_the_lifecycle_as_a_mermaid_diagram():
    out = StringIO()
    call_command("workflow_table", "--mermaid", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["stateDiagram-v2", "    [*] --> New"]
    assert len(lines) == 2 + sum(len(t.sources) for t in TRANSITIONS)
    assert "    Retest --> Fixed: Verify fix" in lines
    assert "    Assigned --> Revise: Start work" in lines
    assert "    Closed --> Assigned: Reopen" in lines

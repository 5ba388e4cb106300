"""The issue page tells the whole story: the why of every step, the closure record, the hold,
labels instead of raw values (also in old events), and who watches because of what they did."""

import csv
import io

import pytest
from django.urls import reverse

from issues.models import EventKind, IssueEvent, Severity, Status
from notifications.emails import build_notification_message
from notifications.models import Kind, Notification
from notifications.services import process_outbox
from tests.factories import make_issue
from workflows.services import (
    hold_sla_clock,
    release_sla_hold,
    set_transition_actors,
    transition_issue,
)

pytestmark = pytest.mark.django_db


def _close_the_long_way(issue, cast):
    """New -> Assigned -> Revise -> Retest (fails once) -> Revise -> Retest -> Fixed -> Closed."""
    owner = cast["owner"]
    transition_issue(issue, Status.ASSIGNED, actor=cast["manager"], owner=owner.pk)
    transition_issue(issue, Status.REVISE, actor=owner)
    transition_issue(issue, Status.RETEST, actor=owner, fix_summary="Raised the pool size")
    transition_issue(issue, Status.REVISE, actor=cast["tester"], failure="Still times out at 50")
    transition_issue(issue, Status.RETEST, actor=owner, fix_summary="Pool size and timeout")
    transition_issue(issue, Status.FIXED, actor=cast["tester"])
    transition_issue(
        issue,
        Status.CLOSED,
        actor=cast["manager"],
        resolution_summary="Checkout works under load again",
        root_cause="configuration",
        lessons_learned="Load-test before every release",
    )


def test_a_closed_issue_shows_its_closure_and_the_why_of_every_step(client, project, cast):
    issue = make_issue(
        project, cast["reporter"], title="Checkout times out", severity=Severity.MAJOR
    )
    _close_the_long_way(issue, cast)
    client.force_login(cast["reporter"])
    page = client.get(issue.get_absolute_url()).text

    panel = page[
        page.index('id="closure-panel"') : page.index(
            "</section>", page.index('id="closure-panel"')
        )
    ]
    assert "Closed · Fixed" in panel
    assert "Checkout works under load again" in panel
    assert "Environment / infrastructure" not in panel and "Configuration" in panel
    assert "Load-test before every release" in panel
    assert f'Closed by</dt><dd class="col-sm-9">{cast["manager"]}' in panel
    assert f'Verified by</dt><dd class="col-sm-9">{cast["tester"]}' in panel

    timeline = page[page.index('id="timeline"') :]
    assert "<dt>Fix summary</dt><dd>Raised the pool size</dd>" in timeline
    assert "<dt>What failed</dt><dd>Still times out at 50</dd>" in timeline
    assert "<dt>Resolution summary</dt><dd>Checkout works under load again</dd>" in timeline
    assert "<dt>Root-cause category</dt><dd>Configuration</dd>" in timeline
    assert "<dt>Lessons learned</dt><dd>Load-test before every release</dd>" in timeline
    # Status words and names, never codes or ids.
    assert (
        "moved it from <strong>Revise</strong> to <strong>Retest</strong> (Send to retest)"
        in timeline
    )
    assert f"assigned it to <strong>{cast['owner']}</strong>" in timeline
    assert f"“{cast['owner'].pk}”" not in timeline and "retest to" not in timeline


def test_a_fixed_issue_shows_the_fix_and_who_verified_it(client, project, cast, walk):
    issue = make_issue(project, cast["reporter"])
    walk(issue, Status.FIXED)
    client.force_login(cast["owner"])
    page = client.get(issue.get_absolute_url()).text
    assert "Fixed, waiting to be closed" in page
    assert "Raised the pool size" in page[page.index('id="closure-panel"') :]
    open_issue = make_issue(project, cast["reporter"], title="Still open")
    assert 'id="closure-panel"' not in client.get(open_issue.get_absolute_url()).text


def test_dismissal_shows_resolution_and_original(client, project, cast):
    original = make_issue(project, cast["reporter"], title="First report")
    dup = make_issue(project, cast["reporter"], title="Second report")
    transition_issue(
        dup, Status.CLOSED, actor=cast["manager"], resolution="duplicate", duplicate_of=original.key
    )
    client.force_login(cast["manager"])
    page = client.get(dup.get_absolute_url()).text
    assert "Closed · Duplicate" in page
    assert "<dt>Resolution</dt><dd>Duplicate</dd>" in page
    assert f"<dt>Duplicate of</dt><dd>{original.key}</dd>" in page


def test_a_held_issue_says_why_and_the_activity_keeps_it(client, project, cast, walk):
    issue = make_issue(project, cast["reporter"])
    walk(issue, Status.ASSIGNED)
    hold_sla_clock(
        issue, actor=cast["owner"], reason="waiting_on_vendor", note="Ticket #4411 with the PSP"
    )
    client.force_login(cast["reporter"])
    page = client.get(issue.get_absolute_url()).text
    hold = page[page.index('id="hold-panel"') :]
    assert "On hold: Waiting on vendor" in hold
    assert "Ticket #4411 with the PSP" in hold
    assert f"Put on hold by {cast['owner']}" in hold
    timeline = page[page.index('id="timeline"') :]
    assert "put the SLA clock on hold" in timeline
    assert "<dt>Hold reason</dt><dd>Waiting on vendor</dd>" in timeline
    assert "<dt>Note</dt><dd>Ticket #4411 with the PSP</dd>" in timeline

    release_sla_hold(issue, actor=cast["owner"])
    page = client.get(issue.get_absolute_url()).text
    assert 'id="hold-panel"' not in page
    assert "took the SLA clock off hold (was: Waiting on vendor)" in page


def test_old_events_with_raw_values_read_as_labels(client, project, cast, settings):
    """Events written before labels were kept: ids, codes and ISO dates."""
    settings.TIME_ZONE = "UTC"
    issue = make_issue(project, cast["reporter"])
    owner = cast["owner"]
    old = [
        ("changed", "owner", "", str(owner.pk), {}),
        ("changed", "owner", str(owner.pk), "999999", {}),
        ("changed", "priority", "2", "3", {}),
        (
            "transitioned",
            "status",
            "revise",
            "retest",
            {"transition": "submit", "fix_summary": "Old fix"},
        ),
        (
            "transitioned",
            "status",
            "fixed",
            "closed",
            {"transition": "close", "resolution_summary": "Done", "root_cause": "third_party"},
        ),
        (
            "sla",
            "resolution_due_at",
            "2026-03-02T09:00:00+00:00",
            "2026-03-03T17:30:00+00:00",
            {"action": "recomputed", "reason": "Severity lowered", "policy_version": 2},
        ),
    ]
    for kind, field, before, after, data in old:
        IssueEvent.objects.create(
            issue=issue, actor=cast["manager"], kind=kind, field=field,
            old_value=before, new_value=after, data=data,
        )  # fmt: skip
    cast["manager"].time_zone = "Europe/Berlin"
    cast["manager"].save()
    client.force_login(cast["manager"])
    page = client.get(issue.get_absolute_url()).text
    assert f"assigned it to <strong>{owner}</strong>" in page
    assert f"changed <em>owner</em> from “{owner}” to “a deleted user (#999999)”" in page
    assert "changed <em>priority</em> from “Medium” to “High”" in page
    assert "<dt>Fix summary</dt><dd>Old fix</dd>" in page
    assert "<dt>Root cause</dt><dd>Third party</dd>" in page
    # Deadlines in the viewer's zone.
    assert "moved the resolution deadline from 2026-03-02 10:00 CET to 2026-03-03 18:30 CET" in page
    assert "<dt>Policy</dt><dd>version 2</dd>" in page


def test_assignee_watches_and_hears_that_the_retest_failed(project, cast):
    issue = make_issue(project, cast["reporter"])
    owner = cast["owner"]
    transition_issue(issue, Status.ASSIGNED, actor=cast["manager"], owner=owner.pk)
    assert owner in issue.watchers.all()
    assert IssueEvent.objects.filter(
        issue=issue, kind=EventKind.WATCHED, data__user_id=owner.pk, data__automatic=True
    ).exists()
    transition_issue(issue, Status.REVISE, actor=owner)
    transition_issue(issue, Status.RETEST, actor=owner, fix_summary="Raised the pool size")
    process_outbox()
    transition_issue(issue, Status.REVISE, actor=cast["tester"], failure="Still times out at 50")
    process_outbox()
    note = Notification.objects.get(recipient=owner, kind=Kind.STATUS_CHANGED, data__new="revise")
    message = build_notification_message(note)
    assert "What failed: Still times out at 50" in message.body
    html = message.alternatives[0][0]
    assert "What failed" in html and "Still times out at 50" in html


def test_whoever_sends_to_retest_watches(project, cast):
    set_transition_actors(project, actor=cast["manager"], transition="submit", actors=["developer"])
    issue = make_issue(project, cast["reporter"])
    transition_issue(issue, Status.ASSIGNED, actor=cast["manager"], owner=cast["owner"].pk)
    transition_issue(issue, Status.REVISE, actor=cast["owner"])
    other = cast["other_dev"]
    assert other not in issue.watchers.all()
    transition_issue(issue, Status.RETEST, actor=other, fix_summary="Pair-fixed it")
    assert other in issue.watchers.all()


def test_who_is_notified_says_owners_and_retest_senders_watch(client, project, cast):
    issue = make_issue(project, cast["reporter"])
    client.force_login(cast["reporter"])
    page = client.get(issue.get_absolute_url()).text
    # The issue page's panel opens on demand; without JavaScript its link is a page.
    url = reverse("issue_notified", args=[issue.key])
    assert f'<a href="{url}">Who hears about each change to {issue.key}</a>' in page
    panel = client.get(url).text
    assert f"Who hears about changes to {issue.key}" in panel
    panel = panel[panel.index('id="who-is-notified"') :]
    assert "The owner and whoever sends it to retest become watchers automatically." in panel
    assert "they then watch the issue" in panel


def test_who_is_notified_of_an_issue_in_another_project_is_not_found(
    client, project, cast, outsider
):
    issue = make_issue(project, cast["reporter"], title="Secret rollout")
    client.force_login(outsider)
    response = client.get(reverse("issue_notified", args=[issue.key]), HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    assert "Secret rollout" not in response.text
    assert client.get(reverse("issue_notified", args=["NOPE-0"])).status_code == 404


def test_closure_is_in_the_csv_export_and_the_closing_email(client, project, cast):
    issue = make_issue(
        project, cast["reporter"], title="Checkout times out", severity=Severity.MAJOR
    )
    _close_the_long_way(issue, cast)
    client.force_login(cast["reporter"])
    response = client.get(reverse("issue_export"), {"status": "closed"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["resolution"] == "Fixed"
    assert row["resolution_summary"] == "Checkout works under load again"
    assert row["root_cause"] == "Configuration"
    assert row["lessons_learned"] == "Load-test before every release"

    process_outbox()
    note = Notification.objects.get(
        recipient=cast["reporter"], kind=Kind.STATUS_CHANGED, data__new="closed"
    )
    message = build_notification_message(note)
    for text in (
        "Closure",
        "Resolution: Fixed",
        "Resolution summary: Checkout works under load again",
        "Root cause: Configuration",
        "Lessons learned: Load-test before every release",
        f"Closed by: {cast['manager']}",
    ):
        assert text in message.body, text
    html = message.alternatives[0][0]
    assert "Closure</h2>" in html and "Load-test before every release" in html


def test_the_sla_box_explains_itself_and_links_to_the_ledger(client, project, cast, walk):
    issue = make_issue(project, cast["reporter"], priority=3, severity=Severity.MAJOR)
    walk(issue, Status.ASSIGNED)
    hold_sla_clock(issue, actor=cast["owner"], reason="waiting_on_reporter", note="Need a HAR")
    client.force_login(cast["reporter"])
    page = client.get(issue.get_absolute_url()).text
    box = page[page.index('id="sla-why"') :]
    box = box[: box.index("</details>")]
    assert "Version 1" in box
    assert "High priority × Major severity: 8 business h to Fixed" in box
    assert "Business hours, UTC: Mon–Fri 09:00–17:00" in box
    assert "Waiting on reporter:" in box and "now" in box
    ledger_url = reverse("issue_sla_ledger", args=[issue.key])
    assert f'href="{ledger_url}"' in box

    ledger = client.get(ledger_url)
    assert ledger.status_code == 200
    text = ledger.text
    assert "SLA clock ledger of WEB-1" in text
    assert "Cycle 1 · policy v1" in text
    assert "Started" in text and "Responded" in text
    assert "Paused (on hold): Waiting on reporter — Need a HAR" in text
    # The ledger answers 404 to someone who may not see the issue.
    client.force_login(cast["outsider"])
    assert client.get(ledger_url).status_code == 404


def test_a_critical_issue_says_it_runs_around_the_clock(client, project, cast):
    issue = make_issue(project, cast["reporter"], priority=3, severity=Severity.CRITICAL)
    client.force_login(cast["reporter"])
    page = client.get(issue.get_absolute_url()).text
    assert "24×7 (Critical issues run around the clock)" in page
    assert "High priority × Critical severity: 4 h to Fixed" in page

"""Beats: two beats at once, a beat restarted; each SLA alert goes out once."""

from __future__ import annotations

import time
from datetime import timedelta

from reliability.common import record
from reliability.servers import wait_for
from reliability.world import World


def outcomes_all(outcomes):
    return [(c, tb) for _, c, tb in outcomes]


def scenario_beats(w: World) -> None:
    name = "Two beats"

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from issues.models import EventKind, IssueEvent
    from notifications.models import Notification
    from projects.models import Project
    from tests.factories import make_issue
    from workflows.models import CheckpointKind, SlaCheckpoint

    box = w.smtp.box
    box.reset()
    duration = 40 if w.quick else 600
    count = 20 if w.quick else 120
    users = get_user_model().objects
    project = Project.objects.get(key="WEB")
    developer, reporter = users.get(username="developer"), users.get(username="reporter")
    now = timezone.now()
    checkpoints = []
    for i in range(count):
        issue = make_issue(project, reporter, owner=developer, title=f"beats {i}")
        SlaCheckpoint.objects.filter(issue=issue).delete()
        issue.resolution_due_at = now + timedelta(hours=5)
        issue.save(update_fields=["resolution_due_at"])
        checkpoints.append(SlaCheckpoint.objects.create(
            issue=issue, cycle=issue.sla_cycle, kind=CheckpointKind.WARNING, threshold=75,
            label="75 % elapsed", due_at=now + timedelta(seconds=5 + i * (duration - 15) / count),
        ).pk)  # fmt: skip
    w.procs.worker()
    beats = [w.procs.beat(SLA_SWEEP_INTERVAL=1), w.procs.beat(SLA_SWEEP_INTERVAL=1)]
    time.sleep(duration)
    sent = [b.log.read_bytes().count(b"Sending due task sla-sweep") for b in beats]
    record(
        name, "sweeps sent by beat A / beat B", f"{sent[0]} / {sent[1]}", "both > 0", min(sent) > 0
    )
    notes = Notification.objects.filter(checkpoint_id__in=checkpoints)
    wait_for(lambda: not notes.exclude(email_status__in=["sent", "none", "batched"]).exists(), 60,
             "the alerts mailed")  # fmt: skip
    ids = list(notes.values_list("id", flat=True))
    distinct, dupes = w.delivered([i for i in ids if notes.get(pk=i).email_status == "sent"])
    flagged = IssueEvent.objects.filter(
        kind=EventKind.SLA_FLAGGED, data__checkpoint_id__in=checkpoints
    ).count()
    record(name, f"{duration} s, sweep every 1 s: alerts / events / emails",
           f"{len(ids)} / {flagged} / {distinct}, {dupes} dup", f"{count} each, 0 dup",
           len(ids) == flagged == count and distinct == count and dupes == 0)  # fmt: skip
    w.procs.stop_all()

"""Managers see whether the SLA sweep is alive: "last SLA sweep 40 s ago", or a warning."""

from datetime import UTC, datetime, timedelta

import time_machine

from notifications.services import sweep_sla

NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def sweep_line(client) -> str:
    html = client.get("/dashboard/").content.decode()
    start = html.index('id="sweep-status"')
    return html[start : html.index("</span>", start)]


def test_dashboard_warns_when_the_sweep_never_ran(client, manager):
    client.force_login(manager)
    assert "The SLA sweep has never run" in sweep_line(client)


def test_dashboard_shows_how_long_ago_the_sweep_ran_and_warns_when_stale(client, manager):
    client.force_login(manager)
    with time_machine.travel(NOON, tick=False):
        sweep_sla()
    with time_machine.travel(NOON + timedelta(seconds=40), tick=False):
        line = sweep_line(client)
    assert "Last SLA sweep 40 s ago" in line and "late" not in line
    with time_machine.travel(NOON + timedelta(minutes=12), tick=False):
        line = sweep_line(client)
    assert "Last SLA sweep" in line and "12" in line and "minutes ago" in line
    assert "SLA alerts are late" in line and "text-danger" in line


def test_healthz_reports_the_sweep_age(client, db):
    with time_machine.travel(NOON, tick=False):
        sweep_sla()
    with time_machine.travel(NOON + timedelta(seconds=90), tick=False):
        body = client.get("/healthz").json()
    assert body["sla_sweep"] == {
        "last_finished": NOON.isoformat(),
        "age_seconds": 90,
        "stale": False,
    }

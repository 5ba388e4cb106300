"""Load: 40 simulated people, latency percentiles against their targets."""

from __future__ import annotations

from reliability.common import record
from reliability.scenarios.users import Activity, _check_writes, _run_users
from reliability.servers import free_port
from reliability.world import World


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def scenario_load(w: World) -> None:
    name = "Load"
    # Django is set up only once World.boot() has configured it: import the app here.
    from django.utils import timezone

    port = free_port()
    w.procs.gunicorn(port, workers=3, threads=8)
    base = f"http://127.0.0.1:{port}"
    a = Activity(base)
    seconds = 15 if w.quick else 60
    since = timezone.now()
    weights = [("list", 30), ("open", 35), ("file", 10), ("comment", 15), ("transition", 10)]
    think = w.think
    _run_users(w, a, base, 40, seconds, weights, think=think)
    requests_total = sum(a.status.values())
    errors = len(a.errors)
    pace = f"think {think[0]:g}-{think[1]:g} s" if think else "no think time (stress)"
    print(f"   40 users, {pace}, {seconds} s")
    record(name, f"40 users x {seconds} s, {pace}: actions / errors",
           f"{requests_total} ({requests_total / seconds:.0f}/s) / {errors}", "0 errors", errors == 0)  # fmt: skip
    total, bad_rows, bad_audit, bad_moves = _check_writes(w, a, since)
    record(name, "accepted writes missing or doubled (rows / audit / history)",
           f"{bad_rows} / {bad_audit} / {bad_moves} of {total}", "0 / 0 / 0",
           bad_rows == bad_audit == bad_moves == 0 and total > 0)  # fmt: skip
    print(f"   {'page':<12} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for page, times in sorted(a.times.items()):
        p50, p95, p99 = (pct(times, p) for p in (50, 95, 99))
        print(f"   {page:<12} {len(times):>5} {p50:>8.0f} {p95:>8.0f} {p99:>8.0f}")
        record(name, f"{page}: p50/p95/p99 ms (n={len(times)})",
               f"{p50:.0f}/{p95:.0f}/{p99:.0f}", "printed", True)  # fmt: skip
    if a.errors:
        print("  first errors:", a.errors[:5])
    w.procs.stop_all()

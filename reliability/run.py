#!/usr/bin/env python
"""`make reliability`: fault and load scenarios against real processes on loopback.

Starts its own throwaway PostgreSQL cluster (initdb, a free port), its own Redis
(`--save "" --appendonly no`), an aiosmtpd server, gunicorn, Celery workers and beats, then runs
each scenario, prints a table (scenario, measured, target, pass/fail) and exits 1 when one falls
short. Nothing touches the machine's shared PostgreSQL or Redis.

    .venv/bin/python reliability/run.py [--quick] [--only smtp,worker,redis,pg,beats,load,webhooks]
                                        [--think 1,3 | --no-think]

The load scenario simulates 40 people: each pauses a random 1-3 s between actions (`--think`,
like locust's ``wait_time = between(1, 3)``), so the figures are the latency a user sees at that
traffic. `--no-think` runs the same users back to back instead: a closed-loop stress test, which
measures the queueing at full saturation (on 2 cores, p50 of 1-2 s), not a user's wait.

Layout: `servers.py` (the real servers), `world.py` (what a scenario runs in), `scenarios/`
(one module a family of scenarios), `common.py` (the results table); this file runs them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path

# Run as a script (`python reliability/run.py`): the checkout's root must be importable first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reliability.common import ROWS, record, table
from reliability.scenarios.beats import scenario_beats
from reliability.scenarios.load import scenario_load
from reliability.scenarios.mail import scenario_smtp, scenario_worker_killed
from reliability.scenarios.outages import scenario_postgres, scenario_redis
from reliability.scenarios.webhooks import scenario_webhooks
from reliability.world import World

SCENARIOS = {
    "smtp": scenario_smtp,
    "worker": scenario_worker_killed,
    "redis": scenario_redis,
    "pg": scenario_postgres,
    "beats": scenario_beats,
    "load": scenario_load,
    "webhooks": scenario_webhooks,
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="shorten every scenario (development)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--think",
        default="1,3",
        metavar="MIN,MAX",
        help="load: each user pauses MIN-MAX s between actions (default 1,3)",
    )
    pace.add_argument(
        "--no-think",
        action="store_true",
        help="load: no pause between actions (closed-loop stress test)",
    )
    args = parser.parse_args()
    if args.no_think:
        args.think = None
    else:
        low, high = (float(x) for x in args.think.split(","))
        if not 0 <= low <= high:
            parser.error("--think MIN,MAX needs 0 <= MIN <= MAX")
        args.think = (low, high)
    world = World(args)
    print(f"Work directory: {world.dir}")
    try:
        world.boot()
        for key in args.only.split(","):
            print(f"\n== {key}")
            started = time.monotonic()
            try:
                SCENARIOS[key](world)
            except Exception as exc:
                traceback.print_exc()
                record(
                    key, "scenario completed", f"{type(exc).__name__}: {exc}"[:120], "yes", False
                )
                world.procs.stop_all()
                if not world.redis._up():
                    world.redis.start()
                if world.smtp.controller is None:
                    world.smtp.start()
            print(f"   ({time.monotonic() - started:.0f} s)")
    finally:
        if args.keep:
            world.dir = Path(tempfile.mkdtemp(prefix="resolve-reliability-gone-"))  # keep logs
            print("Logs kept")
        world.close()
    print("\n" + table())
    failed = [r for r in ROWS if not r.ok]
    print(f"\n{len(ROWS) - len(failed)} of {len(ROWS)} figures met their target.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Helpers every benchmark command shares: a free local port, the CPU time of processes
(Linux /proc) and their children, and the commit measured."""

import os
import socket
import subprocess  # nosec B404 - git, never with user input
from pathlib import Path

from django.conf import settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes (Linux /proc), 0 for ones that are gone."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    return {pid: cpu_seconds([pid]) for pid in pids}


def cpu_delta(before: dict[int, float], pids: list[int]) -> float:
    """CPU seconds spent since `before` by these processes: processes that were there both
    times by their difference, new ones in full (PostgreSQL backends come and go)."""
    return sum(max(0.0, cpu_seconds([pid]) - before.get(pid, 0.0)) for pid in pids)


def child_pids(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def git_commit() -> str:
    try:
        out = subprocess.run(  # noqa: S603  # nosec B603 B607
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
            cwd=settings.BASE_DIR,
        )
        return out.stdout.strip()
    except OSError:
        return ""

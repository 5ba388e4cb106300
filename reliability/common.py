"""What every scenario shares: the checkout's root, the demo password, the results table."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "resolve-demo"  # the seed_demo personas  # nosec B105


@dataclass
class Row:
    scenario: str
    figure: str
    measured: str
    target: str
    ok: bool


ROWS: list[Row] = []


def record(scenario: str, figure: str, measured, target: str, ok: bool) -> None:
    ROWS.append(Row(scenario, figure, str(measured), target, bool(ok)))
    print(f"  [{'PASS' if ok else 'FAIL'}] {scenario}: {figure} = {measured} (target {target})")


def table() -> str:
    head = ("Scenario", "Figure", "Measured", "Target", "Result")
    rows = [(r.scenario, r.figure, r.measured, r.target, "pass" if r.ok else "FAIL") for r in ROWS]
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(5)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    return "\n".join([line, sep, *body])

"""The SLA engine: derive an issue's clock from its ledger and cache the deadlines.

The ledger (`ClockEvent`) is the truth; `derive_clock` folds it into running segments, and
`compute_deadlines` turns the segments and the cycle's targets into moments (deadline,
warnings, response deadline) in business time; `outcome_of` judges a response or a fix.
`store_deadlines` caches them on the issue and the cycle and moves the unflagged `SlaCheckpoint`
rows. Callers hold the issue's row lock. `replay_cycle` is the reference: everything cached
about a cycle recomputed from its ledger in one plain walk (tests/workflows/test_sla_replay.py
holds the services to it).
"""

from .deadlines import (
    Clock,
    Deadlines,
    compute_deadlines,
    deadlines_for,
    derive_clock,
    moments_for,
    outcome_of,
    warning_amount,
    warning_label,
)
from .replay import Replay, replay_cycle
from .storing import (
    CheckpointChanges,
    bulk_set,
    checkpoint_changes,
    cycle_events,
    now,
    refresh_deadlines,
    store_deadlines,
    write_checkpoint_changes,
)

__all__ = [
    "CheckpointChanges",
    "Clock",
    "Deadlines",
    "Replay",
    "bulk_set",
    "checkpoint_changes",
    "compute_deadlines",
    "cycle_events",
    "deadlines_for",
    "derive_clock",
    "moments_for",
    "now",
    "outcome_of",
    "refresh_deadlines",
    "replay_cycle",
    "store_deadlines",
    "warning_amount",
    "warning_label",
    "write_checkpoint_changes",
]

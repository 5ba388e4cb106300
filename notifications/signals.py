"""Hooks across apps: a new IssueEvent queues the outbox processing after the commit, and the
outbox announces each batch it claims (webhooks create their deliveries from it)."""

from django.dispatch import Signal

# Sent inside the transaction that claims a batch of outbox rows, with `events` (the claimed
# IssueEvents, `issue__project` and `actor` loaded, oldest first). A receiver's writes commit or
# roll back with the claim, so each event is handed over exactly once.
outbox_claimed = Signal()


def kick_outbox_on_new_event(sender, instance, created: bool, **kwargs) -> None:
    if created and instance.notified_at is None:
        from .services import kick_outbox

        kick_outbox()

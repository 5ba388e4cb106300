"""The hook across apps that notifications offer: the outbox announces each batch it claims
(webhooks create their deliveries from it). The receiver that kicks the outbox on a new
IssueEvent is `services.kick_outbox_on_new_event`, connected in `apps.py`."""

from django.dispatch import Signal

# Sent inside the transaction that claims a batch of outbox rows, with `events` (the claimed
# IssueEvents, `issue__project` and `actor` loaded, oldest first). A receiver's writes commit or
# roll back with the claim, so each event is handed over exactly once.
outbox_claimed = Signal()

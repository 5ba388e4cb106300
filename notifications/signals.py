"""The one cross-app hook: a new IssueEvent queues the outbox processing after the commit."""


def kick_outbox_on_new_event(sender, instance, created: bool, **kwargs) -> None:
    if created and instance.notified_at is None:
        from .services import kick_outbox

        kick_outbox()

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        # A hook across apps (issues -> notifications): new events kick the outbox on commit.
        from django.db.models.signals import post_save

        from issues.models import IssueEvent

        from .signals import kick_outbox_on_new_event

        post_save.connect(
            kick_outbox_on_new_event, sender=IssueEvent, dispatch_uid="notify_outbox_kick"
        )

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        # A hook across apps (issues -> notifications): new events kick the outbox on commit.
        # Imported here, not at the top: models and services load only once the app registry
        # is ready, which is what ready() is for.
        from django.db.models.signals import post_save

        from issues.models import IssueEvent

        from .services import kick_outbox_on_new_event

        post_save.connect(
            kick_outbox_on_new_event, sender=IssueEvent, dispatch_uid="notify_outbox_kick"
        )

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        # The hook across apps (notifications -> webhooks): the outbox, as it claims a batch of
        # activity records, lets webhooks create their deliveries in the same transaction.
        # Imported here: services load models, which may happen only once the registry is ready.
        from notifications.signals import outbox_claimed

        from .services import create_deliveries_for_events

        def _on_claimed(sender, events, **kwargs) -> None:
            create_deliveries_for_events(events)

        outbox_claimed.connect(_on_claimed, dispatch_uid="webhooks_outbox_claimed", weak=False)

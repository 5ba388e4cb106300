from django import forms

from .models import EventType, Format, Subscription
from .urlsafety import MAX_URL_LENGTH


class SubscriptionForm(forms.Form):
    """Shape only; the service checks the URL (SSRF guard) and says what is wrong."""

    url = forms.CharField(
        label="Target URL",
        max_length=MAX_URL_LENGTH,
        widget=forms.URLInput(attrs={"placeholder": "https://ci.example.com/hooks/resolve"}),
        help_text="http:// or https://; public addresses only. Redirects are not followed.",
    )
    description = forms.CharField(max_length=200, required=False)
    format = forms.ChoiceField(choices=Format.choices, initial=Format.STANDARD)
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=list(EventType.values),
    )
    active = forms.BooleanField(
        label="Active", required=False, initial=True, help_text="Paused webhooks receive nothing."
    )

    @classmethod
    def for_subscription(cls, sub: Subscription, data=None) -> "SubscriptionForm":
        return cls(
            data,
            initial={
                "url": sub.url,
                "description": sub.description,
                "format": sub.format,
                "event_types": sub.event_types,
                "active": sub.state == "active",
            },
        )

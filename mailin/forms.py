from django import forms

from issues.models import IssueType, Priority, Severity

from .models import AcceptFrom


class AddressForm(forms.Form):
    address = forms.EmailField(
        max_length=254,
        help_text="E.g. web-support@example.com, or plus-addressing on one mailbox: "
        "resolve+web@example.com.",
    )
    type = forms.ChoiceField(choices=IssueType.choices, initial=IssueType.BUG)
    priority = forms.TypedChoiceField(choices=Priority.choices, coerce=int, initial=Priority.MEDIUM)
    severity = forms.TypedChoiceField(choices=Severity.choices, coerce=int, initial=Severity.MINOR)


class AcceptFromForm(forms.Form):
    accept_from = forms.ChoiceField(
        choices=AcceptFrom.choices,
        widget=forms.RadioSelect,
        label="Who may file by e-mail",
        help_text="Refused mail waits in the quarantine below, where you can file or discard it.",
    )

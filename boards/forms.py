"""The WIP limits form (parsing only: the rule is in services.py)."""

from django import forms

from issues.models import Status

from .selectors import LIFECYCLE
from .services import MAX_LIMIT


class ColumnLimitsForm(forms.Form):
    def __init__(self, *args, current: dict[str, int], **kwargs):
        super().__init__(*args, **kwargs)
        for status in LIFECYCLE:
            self.fields[status] = forms.IntegerField(
                required=False,
                min_value=1,
                max_value=MAX_LIMIT,
                initial=current.get(status),
                label=f"{Status(status).label} (WIP limit)",
                help_text="Empty: no limit.",
            )

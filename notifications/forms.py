from django import forms

from .models import ALWAYS_IMMEDIATE, MODES_FOR_KIND, Kind, Mode


class PreferencesForm(forms.Form):
    """One choice per kind a user may configure; forced kinds are shown, not editable."""

    def __init__(self, *args, current: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        for kind in Kind:
            if kind in ALWAYS_IMMEDIATE:
                continue
            allowed = MODES_FOR_KIND.get(kind, list(Mode))
            self.fields[kind.value] = forms.ChoiceField(
                label=kind.label,
                choices=[(m.value, m.label) for m in allowed],
                initial=current.get(kind.value),
            )

import zoneinfo

from django import forms

from .models import User


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        choices=[(tz, tz) for tz in sorted(zoneinfo.available_timezones())],
        help_text="Every date in Resolve is shown in this zone.",
    )
    current_password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Needed only to change your e-mail address.",
    )

    class Meta:
        model = User
        fields = ["display_name", "first_name", "last_name", "email", "time_zone"]

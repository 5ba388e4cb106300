"""The parsing edge for numbers that come from people: ids, issue keys, counts.

Python's `str.isdigit()` and `int()` accept far more than `[0-9]`: superscripts and circled
digits pass `isdigit()` and then crash `int()`, other scripts' digits (Arabic-Indic, Devanagari,
fullwidth) convert silently, and nothing bounds the size, while the database's integers stop at
64 bits (SQLite refuses larger parameters outright). Everything that turns request text into a
number goes through here: ASCII digits only (`re.ASCII`), a bounded length and range; anything
else is "not a valid value" (a form error, no match, or 404), never an exception deep inside.
"""

import re

from django import forms

# The largest id any table uses (bigint), and the largest issue number (a PostgreSQL integer).
MAX_ID = 2**63 - 1
MAX_ISSUE_NUMBER = 2**31 - 1

_DIGITS_RE = re.compile(r"[0-9]{1,19}", re.ASCII)
_SIGNED_RE = re.compile(r"[+-]?[0-9]{1,40}", re.ASCII)
# A project key (2–10 letters or digits, a letter first), a dash, an issue number.
ISSUE_KEY_RE = re.compile(r"([A-Z][A-Z0-9]{1,9})-([0-9]{1,10})", re.ASCII | re.IGNORECASE)


def parse_id(value: object, *, maximum: int = MAX_ID) -> int | None:
    """The non-negative integer written in ASCII digits in `value` (surrounding spaces
    allowed), or None when it is anything else or larger than `maximum`."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= maximum else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not _DIGITS_RE.fullmatch(text):
        return None
    number = int(text)
    return number if number <= maximum else None


def parse_issue_key(value: object) -> tuple[str, int] | None:
    """("WEB", 42) for "WEB-42" (any case, surrounding spaces allowed); None for anything that
    is not a well-formed key of an issue that could exist."""
    if not isinstance(value, str):
        return None
    match = ISSUE_KEY_RE.fullmatch(value.strip())
    if match is None:
        return None
    number = parse_id(match.group(2), maximum=MAX_ISSUE_NUMBER)
    if number is None or number == 0:
        return None
    return match.group(1).upper(), number


# --- form fields: the same rule where Django would call int() on the raw value ---------------


class IdChoiceMixin:
    """For a ModelChoiceField (or django-filter's): the submitted value must be an id (ASCII
    digits, in range) before it is looked up; anything else is "Select a valid choice"."""

    def to_python(self, value):
        if value in self.empty_values or isinstance(value, self.queryset.model):
            return super().to_python(value)
        if self.to_field_name is None and parse_id(value) is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return super().to_python(value)


class IdValuesMixin:
    """For a ModelMultipleChoiceField (or django-filter's): the same rule for every value."""

    def _check_values(self, value):
        if self.to_field_name is None:
            for pk in value:
                if not isinstance(pk, self.queryset.model) and parse_id(pk) is None:
                    raise forms.ValidationError(
                        self.error_messages["invalid_pk_value"],
                        code="invalid_pk_value",
                        params={"pk": str(pk)[:30]},
                    )
        return super()._check_values(value)


class IdModelChoiceField(IdChoiceMixin, forms.ModelChoiceField):
    pass


class IdModelMultipleChoiceField(IdValuesMixin, forms.ModelMultipleChoiceField):
    pass


class BoundedIntegerField(forms.IntegerField):
    """An IntegerField that reads ASCII digits only (with an optional minus sign) and stays
    within 64 bits unless narrower bounds are given."""

    default_error_messages = {"invalid": "Enter a whole number (digits 0–9)."}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", -MAX_ID)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        match = _SIGNED_RE.fullmatch(str(value).strip())
        if match is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        # At most 40 digits were read: min_value/max_value refuse it with their message.
        return int(match.group(0))

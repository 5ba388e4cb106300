"""Writes of custom fields: definitions (the settings pages) and values (forms, API).

A value is checked against its field before anything is written (`clean_values`); filing or
editing an issue with custom values is one transaction, a use case of `workflows`
(`workflows.issue_fields`): a bad value saves nothing, the issue is not created or changed.
"""

from .definitions import SLUG_RE, archive_custom_field, create_custom_field, update_custom_field
from .values import (
    Clean,
    CustomFieldError,
    bump_version,
    clean_value,
    clean_values,
    form_field_name,
    held_options,
    set_custom_values,
    write_values,
)

__all__ = [
    "Clean",
    "CustomFieldError",
    "SLUG_RE",
    "archive_custom_field",
    "bump_version",
    "clean_value",
    "clean_values",
    "create_custom_field",
    "form_field_name",
    "held_options",
    "set_custom_values",
    "update_custom_field",
    "write_values",
]

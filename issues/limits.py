"""How long each free-text field may be: one definition, enforced by the services (and so by
the web forms, the API, intake and mail-in alike) and mirrored by the forms' `maxlength` so
the browser stops typing there too. The README's security section prints this table."""

# Titles: one line in a list row, an e-mail subject, a browser tab.
TITLE_MAX_CHARS = 200
# Descriptions, comments and the closure texts share one limit (the Markdown renderer's too).
TEXT_MAX_CHARS = 50_000
ENVIRONMENT_MAX_CHARS = 120
AFFECTED_VERSION_MAX_CHARS = 60
REASON_MAX_CHARS = 10_000
LABEL_MAX_CHARS = 50
# The free-text search box and the new-issue form's duplicate suggestions.
SEARCH_MAX_CHARS = 500

# (field, limit, where, what happens over it) for the README's table.
FIELD_LIMITS = [
    ("Issue title", TITLE_MAX_CHARS, "new/edit form, API, intake, mail-in", "field error / 400"),
    ("Description", TEXT_MAX_CHARS, "new/edit form, API, intake, mail-in", "field error / 400"),
    ("Comment", TEXT_MAX_CHARS, "comment form, API, mail-in", "field error / 400"),
    ("Environment", ENVIRONMENT_MAX_CHARS, "new/edit form, API, intake", "field error / 400"),
    ("Affected version", AFFECTED_VERSION_MAX_CHARS, "new/edit form, API, intake", "field error / 400"),
    ("Transition texts (reason, fix summary, …)", REASON_MAX_CHARS, "transition form, API", "field error / 400"),
    ("Label name", LABEL_MAX_CHARS, "edit form, bulk edit", "field error"),
    ("Search text", SEARCH_MAX_CHARS, "list, top-bar search, duplicate suggestions", "API: 400; pages: the rest ignored"),
]  # fmt: skip


def limits_table() -> str:
    """The README's table of field limits (a test keeps the README equal to it)."""
    rows = ["| field | at most (characters) | enforced on | over the limit |", "|---|---|---|---|"]
    rows += [f"| {f} | {limit:,} | {where} | {what} |" for f, limit, where, what in FIELD_LIMITS]
    return "\n".join(rows)


def too_long(value: str, limit: int) -> bool:
    return len(value or "") > limit


def too_long_message(label: str, limit: int, value: str) -> str:
    return f"{label} may be at most {limit:,} characters (this one has {len(value):,})."


def max_length_errors(label: str, limit: int) -> dict[str, str]:
    """A form field's `error_messages` saying the same as the services do."""
    return {
        "max_length": f"{label} may be at most {limit:,} characters (this one has %(show_value)s)."
    }

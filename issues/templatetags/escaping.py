"""Escaping for the template helpers that build HTML in Python (list rows, timeline entries,
the filter bar): no tag library of its own (no `register`)."""

import html


def _html(value) -> str:
    """conditional_escape() for the hot paths below: Django's escape() wraps html.escape in a
    lazy-string check that costs more than the escaping, thousands of times a page."""
    return value.__html__() if hasattr(value, "__html__") else html.escape(str(value))

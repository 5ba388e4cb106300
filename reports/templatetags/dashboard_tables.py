"""The dashboard's tables as HTML, built in Python.

A dashboard page shows ~1,500 cells (owners, components, the urgent list, the grids); through
a template each cell cost a dozen tag and variable evaluations (~40 CPU-ms a page at 100,000
issues). `dashboard_table` writes the same markup the template wrote (a test compares the two
on a dashboard with every kind of cell), every text and link escaped as the template did.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from accounts.templatetags.resolve import when
from reports.dashboard import Cell, Table

register = template.Library()

_END = ' class="text-end"'


def _esc(value: Any) -> str:
    """`conditional_escape` without its lazy-string and SafeString wrappers (called ~10,000
    times a page): plain text through `html.escape`, which is what Django's `escape` runs."""
    if type(value) is str:
        return html.escape(value)
    return str(conditional_escape(value))


def _content(cell: Cell) -> str:
    css = cell.css
    if css == "when":
        return str(when(cell.value))
    text = _esc(cell.text)
    if css:
        return f'<span class="badge {_esc(css)}">{text}</span>'
    if cell.href:
        return f'<a href="{_esc(cell.href)}">{text}</a>'
    return text


def _td_class(cell: Cell) -> str:
    if cell.css == "when":
        return "text-nowrap"
    if cell.href or cell.value is not None:
        return "text-end"
    return ""


def render_table(table: Table, *, query: str = "", search: str = "") -> SafeString:
    """One table with its caption (title and CSV link), header and rows."""
    csv_href = _esc(reverse("reports:csv", args=[table.slug])) + "?"
    csv_href += _esc(query)
    if search:
        csv_href += "&amp;q=" + _esc(quote(search, safe="/"))
    title = _esc(table.title)
    columns = "".join(
        f'<th scope="col"{_END if i else ""}>{_esc(c)}</th>' for i, c in enumerate(table.columns)
    )
    parts = [
        '<div class="table-responsive">\n'
        '<table class="table table-sm table-dense table-hover align-middle reports-table" '
        f'id="table-{_esc(table.slug)}">\n'
        '  <caption class="caption-top d-flex justify-content-between align-items-center">\n'
        f"    <span>{title}</span>\n"
        f'    <a class="btn btn-sm btn-link" href="{csv_href}" download><i class="bi bi-download" '
        f'aria-hidden="true"></i> CSV<span class="visually-hidden"> of {title}</span></a>\n'
        "  </caption>\n"
        f"  <thead><tr>{columns}</tr></thead>\n"
        "  <tbody>\n  "
    ]
    for row in table.rows:
        cells = []
        for i, cell in enumerate(row):
            if i:
                cells.append(f'<td class="{_td_class(cell)}">{_content(cell)}</td>')
            else:
                cells.append(f'<th scope="row">{_content(cell)}</th>')
        parts.append(f"\n    <tr>{''.join(cells)}</tr>\n  ")
    if not table.rows:
        parts.append(
            f'\n    <tr><td colspan="{len(table.columns)}" class="text-secondary">'
            "Nothing in this selection.</td></tr>\n  "
        )
    parts.append("\n  </tbody>\n</table>\n</div>\n")
    # Every interpolated value above went through _esc (or is the `when`
    # filter's own escaped markup).
    return mark_safe("".join(parts))  # noqa: S308  # nosec B308 B703


@register.simple_tag(takes_context=True)
def dashboard_table(context: Any, table: Table) -> SafeString:
    return render_table(table, query=context.get("query", ""), search=context.get("search", ""))

"""The dashboard's building blocks: cells, tables and sections, and the links behind each number."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus

from django.urls import reverse
from django.utils.safestring import SafeString

from workflows.businesstime import format_business_duration, format_duration

from .. import selectors
from ..selectors import Scope


# --- cells, tables, sections -----------------------------------------------------------------
@dataclass
class Cell:
    text: str
    href: str = ""
    value: Any = None  # what the CSV gets (defaults to the text)
    css: str = ""

    @property
    def csv(self) -> Any:
        if isinstance(self.value, datetime):
            return self.value.isoformat()
        return self.text if self.value is None else self.value


@dataclass
class Table:
    slug: str
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    # The CSV headers when they differ from the columns (e.g. units spelled out).
    csv_columns: list[str] | None = None


@dataclass
class Section:
    slug: str
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    charts: list[SafeString] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


# --- links ---------------------------------------------------------------------------------
OPEN_PARAMS = [("status", s) for s in selectors.OPEN_VALUES]


def scope_params(scope: Scope) -> list[tuple[str, str]]:
    """The dashboard filters as issue-list filters (the period is not one of them)."""
    params = [("project", str(pk)) for pk in scope.project_ids]
    if scope.team_id:
        params.append(("team", str(scope.team_id)))
    if scope.type:
        params.append(("type", scope.type))
    if scope.severity:
        params.append(("severity", str(scope.severity)))
    return params


def issue_list_url(scope: Scope, params: list[tuple[str, str]]) -> str:
    given = {k for k, _ in params}
    path, base = _encoded_base(scope, "issue_list", scoped=True)
    return _join(path, [e for k, e in base if k not in given], params)


def filter_params(scope: Scope) -> list[tuple[str, str]]:
    """The dashboard's own query string for this scope (the period as explicit dates)."""
    return [
        *scope_params(scope),
        ("range", "custom"),
        ("start", scope.first_day.isoformat()),
        ("end", scope.last_day.isoformat()),
    ]


def drill_url(scope: Scope, metric: str, **params: Any) -> str:
    path, base = _encoded_base(scope, "reports:drill", scoped=False)
    extra = [("metric", metric), *((k, str(v)) for k, v in params.items() if v not in (None, ""))]
    return _join(path, [e for k, e in base if k not in params], extra)


# A page has ~1,500 links, each the scope's filters plus a few of its own: the path and the
# scope's part are worked out once per page (memo), each (name, value) pair encoded once per
# process; the result is `urlencode` of the same pairs, character for character.
def _encoded_base(scope: Scope, name: str, *, scoped: bool) -> tuple[str, list[tuple[str, str]]]:
    key = f"links:{name}"
    if key not in scope.memo:
        pairs = scope_params(scope) if scoped else filter_params(scope)
        scope.memo[key] = (reverse(name), [(k, _pair(k, v)) for k, v in pairs])
    return scope.memo[key]


@lru_cache(maxsize=4096)
def _pair(name: str, value: str) -> str:
    return f"{quote_plus(name)}={quote_plus(value)}"


def _join(path: str, base: list[str], params: Iterable[tuple[str, str]]) -> str:
    return f"{path}?{'&'.join([*base, *(_pair(k, str(v)) for k, v in params)])}"


def _count(n: int, href: str) -> Cell:
    return Cell(str(n), href if n else "", n)


def _pct_cell(pct: float | None, href: str) -> Cell:
    if pct is None:
        return Cell("—", "", "")
    return Cell(f"{pct:g} %", href, pct)


def _duration(seconds: float | None, href: str = "", *, business: bool = False) -> Cell:
    """Wall-clock durations as '2 d 4 h'; business durations in business hours ('26 business
    h'), never in days: a business day is not 24 h."""
    if seconds is None:
        return Cell("—", "", "")
    amount = timedelta(seconds=seconds)
    text = format_business_duration(amount) if business else format_duration(amount)
    return Cell(text, href, round(seconds / 3600, 2))


def _week_label(monday: date) -> str:
    return monday.strftime("%d %b")

"""The dashboard's sections: numbers from `selectors`, turned into tables (shown under each
chart and downloadable as CSV), charts and links to exactly the issues behind each number.

Links go to the issue list (`/issues/?…`) when its filters can express the set (SLA state,
status, owner, severity, creation dates), otherwise to `/dashboard/issues/?metric=…`, which
finds the issues with the same selector and hands them to the list as `?keys=…`.
"""

from __future__ import annotations

from collections.abc import Callable

from workflows.models import CycleOutcome

from ..selectors import Scope
from .cells import (  # noqa: F401
    OPEN_PARAMS,
    Cell,
    Section,
    Table,
    drill_url,
    filter_params,
    issue_list_url,
    scope_params,
)
from .flow import ageing_section, flow_section, stages_section, workload_section  # noqa: F401
from .lessons import lessons_section  # noqa: F401
from .sla import breaches_section, compliance_section, mtt_section, right_now_section  # noqa: F401

SECTIONS: dict[str, Callable[..., Section]] = {
    "now": right_now_section,
    "compliance": compliance_section,
    "mtt": mtt_section,
    "stages": stages_section,
    "ageing": ageing_section,
    "flow": flow_section,
    "workload": workload_section,
    "breaches": breaches_section,
    "lessons": lessons_section,
}


# Which section holds each downloadable table.
TABLE_SECTION = {
    "now-counts": "now",
    "now-urgent": "now",
    "compliance": "compliance",
    "compliance-weekly": "compliance",
    "mtt-priority": "mtt",
    "mtt-severity": "mtt",
    "stages": "stages",
    "ageing": "ageing",
    "flow": "flow",
    "workload": "workload",
    "breaches-type": "breaches",
    "breaches-cause": "breaches",
    "lessons": "lessons",
}


def build(scope: Scope, *, search: str = "") -> dict[str, Section]:
    sections = {}
    for slug, builder in SECTIONS.items():
        sections[slug] = builder(scope, search) if slug == "lessons" else builder(scope)
    return sections


def build_table(scope: Scope, slug: str, *, search: str = "") -> Table | None:
    section_slug = TABLE_SECTION.get(slug)
    if section_slug is None:
        return None
    builder = SECTIONS[section_slug]
    section = builder(scope, search) if section_slug == "lessons" else builder(scope)
    return next(t for t in section.tables if t.slug == slug)


__all__ = ["CycleOutcome", "build", "build_table"]

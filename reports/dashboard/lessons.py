"""The lessons section: resolved issues' root causes and what was learned."""

from __future__ import annotations

from workflows.models import RootCause

from .. import selectors
from ..selectors import Scope
from .cells import Cell, Section, Table


def lessons_section(scope: Scope, search: str = "") -> Section:
    found = selectors.lessons(scope, search=search)
    table = Table("lessons", "Lessons learned", ["Issue", "Title", "Root cause", "Lessons learned"])
    for issue in found:
        cause = issue.root_cause
        table.rows.append(
            [
                Cell(issue.key, issue.get_absolute_url()),
                Cell(issue.title),
                Cell(RootCause(cause).label if cause in RootCause.values else cause or "—"),
                Cell(issue.lessons_learned),
            ]
        )
    return Section(
        "lessons",
        "Lessons learned",
        "Recorded when issues were closed (all time, newest first).",
        [table],
        extra={"search": search},
    )

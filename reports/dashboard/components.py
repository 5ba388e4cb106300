"""The dashboard's "by component" section: compliance and workload per component."""

from __future__ import annotations

from projects.models import Component

from .. import shape
from ..selectors import Scope
from .cells import OPEN_PARAMS, Cell, Section, Table, _count, _pct_cell, issue_list_url


def components_section(scope: Scope) -> Section:
    """Compliance and workload grouped by component (issues without one in a row of their
    own); links go to the list filtered by the component."""
    table = Table(
        "components",
        "Compliance and workload by component",
        ["Component", "Open", "At risk", "Breached", "Weighted load", "Finished", "Met %"],
    )
    for r in shape.by_component(scope):
        component = r["component"]

        def link(extra: list[tuple[str, str]], component: Component | None = component) -> str:
            # The list cannot filter "no component": that row has no links.
            if component is None:
                return ""
            return issue_list_url(scope, [("component", str(component.pk)), *extra])

        table.rows.append(
            [
                Cell(r["name"]),
                _count(r["open"], link(OPEN_PARAMS)),
                _count(r["at_risk"], link([("sla", "at_risk")])),
                _count(r["breached"], link([("sla", "breached")])),
                _count(r["weighted"], link(OPEN_PARAMS)),
                Cell(str(r["finished"]), value=r["finished"]),
                _pct_cell(r["met_pct"], ""),
            ]
        )
    return Section(
        "components",
        "By component",
        "Open issues now and SLA cycles finished in the period, per component.",
        [table],
    )

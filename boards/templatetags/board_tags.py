"""The board's cards, rendered in Python like the list's rows (a template loop over up to 600
cards would cost a node render per field); the badges are the list's and the SLA badge is
`workflows`' own, so colours and words are the same everywhere."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils.safestring import mark_safe

from issues.models import Status
from issues.templatetags.issue_tags import (
    _html,
    _labels,
    _priority_badge,
    _severity_badge,
    _type_icon,
)
from playbooks.templatetags.playbook_tags import progress_badge
from workflows.models import SlaPolicy
from workflows.selectors import current_policies, time_left
from workflows.templatetags.workflow_tags import render_sla_badge

register = template.Library()

_KEY_SLOT = "KEY-0"
_TO_SLOT = "to-slot"
_SLOT = "\x00key\x00"
STATUS_LABELS = dict(Status.choices)

_CARD = (
    '<li class="board-card card" id="card-{key}" data-key="{key}" data-status="{status}"'
    ' data-moves="{moves}" tabindex="0" aria-label="{key}: {title}">'
    '<div class="card-body p-2">'
    '<div class="board-card-head d-flex align-items-center gap-1 small">'
    '<a class="issue-key" href="{url}" tabindex="-1">{key}</a> {type_icon}'
    '<span class="ms-auto">{priority}</span> {severity} {owner}</div>'
    '<a class="board-card-title d-block" href="{url}" tabindex="-1">{title}</a>'
    '<div class="board-card-meta d-flex flex-wrap align-items-center gap-1 small mt-1">'
    "{sla}{progress}{labels}{comments}</div>"
    "{menu}</div></li>"
)
_LABEL = '<span class="badge rounded-pill text-bg-light border">{}</span>'
_OWNER = (
    '<span class="avatar" title="Owner: {name}" aria-hidden="true">{initials}</span>'
    '<span class="visually-hidden">Owner {name}</span>'
)
_UNOWNED = '<span class="avatar avatar-empty" title="Unassigned" aria-hidden="true">–</span><span class="visually-hidden">Unassigned</span>'
_COMMENTS = (
    '<span class="board-comments text-body-secondary ms-auto" title="{n} comment{s}">'
    '<i class="bi bi-chat" aria-hidden="true"></i> {n}<span class="visually-hidden"> comment{s}</span></span>'
)
_MENU = (
    '<details class="card-menu mt-1"><summary class="small text-body-secondary">Move'
    '<span class="visually-hidden"> {key}</span></summary>'
    '<div class="card-menu-body d-flex flex-wrap gap-1 mt-1">{items}'
    '<a class="btn btn-sm btn-link" href="{url}">Open {key}</a></div></details>'
)
# A plain submit button of the page's one move form (`#board-move-form`: the CSRF token and
# the way back once, not once per card): `formaction` names the move.
_BUTTON = (
    '<button type="submit" form="board-move-form" formaction="{action}"'
    ' name="{name}-expected_status" value="{status}" class="btn btn-sm btn-{style}"'
    ' data-move-to="{target}" title="{from_label} → {to_label}">{label} → {to_label}</button>'
)
_LINK = (
    '<a class="btn btn-sm btn-{style}" href="{action}?next={next_q}" data-move-to="{target}"'
    ' data-needs-fields title="{from_label} → {to_label}">{label} → {to_label}…</a>'
)


class Cell:
    """One cell's rendered cards and their fingerprint: the poll replaces only the cells whose
    fingerprint changed."""

    def __init__(self, html: str):
        self.digest = hashlib.blake2s(html.encode(), digest_size=8).hexdigest()
        self.html = mark_safe(html)  # noqa: S308  # nosec B308 B703 - escaped in _cards_html
        self.empty = not html


@register.simple_tag(takes_context=True)
def board_cell(context, cards) -> Cell:
    return Cell(_cards_html(context, cards))


class _BoardRender:
    """What every cell of one board shares, built once per render: the projects' SLA
    policies (one query), each owner's avatar, each label's badge and each set of moves'
    menu items (with a key slot), so a card costs only what is its own."""

    def __init__(self, context):
        next_q = quote(context["request"].get_full_path(), safe="")
        self.moves = context["board"].moves
        self.next_q = next_q
        # NUL cannot survive quote(): the slot never matches anything in `next`.
        self.url_pattern = reverse("issue_detail", args=[_KEY_SLOT]).replace(_KEY_SLOT, _SLOT)
        self.move_pattern = reverse("board_move", args=[_KEY_SLOT, _TO_SLOT]).replace(
            _KEY_SLOT, _SLOT
        )
        self.policies: dict[int, SlaPolicy] = {}
        self.owners: dict[int | None, str] = {None: _UNOWNED}
        self.labels: dict[str, str] = {}
        self.menus: dict[tuple, tuple[str, str]] = {}

    def menu(self, status: str, moves) -> tuple[str, str]:
        """(menu items with the key slot, data-moves) of these moves from `status`."""
        cache_key = (status, *(t.name for t in moves))
        found = self.menus.get(cache_key)
        if found is not None:
            return found
        items, codes = [], []
        from_label = STATUS_LABELS[status]
        for t in moves:
            fields = bool(t.fields)
            codes.append(f"{t.target}:{t.name}:{int(fields)}")
            values = {
                "action": self.move_pattern.replace(_TO_SLOT, t.target),
                "style": t.style,
                "target": t.target,
                "label": _html(t.label),
                "from_label": from_label,
                "to_label": STATUS_LABELS[t.target],
            }
            if fields:
                items.append(_LINK.format(next_q=self.next_q, **values))
            else:
                items.append(_BUTTON.format(name=t.name, status=status, **values))
        found = self.menus[cache_key] = ("".join(items), " ".join(codes))
        return found

    def owner(self, card) -> str:
        found = self.owners.get(card.owner_id)
        if found is None:
            person = card.owner
            found = self.owners[card.owner_id] = _OWNER.format(
                name=_html(person.username), initials=_html(person.initials)
            )
        return found

    def label_badges(self, card) -> str:
        out = []
        for label in _labels(card):
            name = label.name
            badge = self.labels.get(name)
            if badge is None:
                badge = self.labels[name] = _LABEL.format(_html(name))
            out.append(badge)
        return "".join(out)


def _cards_html(context, cards) -> str:
    """The `<li>` cards of one cell. Each card says which columns it may be dropped on
    (`data-moves`: target:transition:needs-fields) and carries the same moves as a `<details>`
    menu of plain forms and links, so the board works without JavaScript."""
    holder = context.get("request") or context.render_context
    shared = getattr(holder, "_board_render", None)
    if shared is None:
        shared = holder._board_render = _BoardRender(context)
    # Business time left for every card; the projects' policies are read once per render
    # (one query for the whole board, however many cells), as the list's badges do.
    policies = shared.policies
    missing = {i.project_id for i in cards if i.is_open} - policies.keys()
    if missing:
        policies.update(current_policies(missing))
    html = []
    for issue in cards:
        key = _html(issue.key)
        items, codes = shared.menu(issue.status, shared.moves.get(issue.pk, ()))
        count = issue.comment_count or 0
        url = shared.url_pattern.replace(_SLOT, key)
        policy = policies.get(issue.project_id) or SlaPolicy(version=0)
        html.append(
            _CARD.format(
                key=key,
                status=issue.status,
                moves=codes,
                title=_html(issue.title),
                url=url,
                type_icon=_type_icon(issue.type),
                priority=_priority_badge(issue.priority),
                severity=_severity_badge(issue.severity),
                owner=shared.owner(issue),
                sla=render_sla_badge(issue, time_left(issue, policy.calendar_for(issue.severity))),
                labels=shared.label_badges(issue),
                progress=progress_badge(issue.checklist_done, issue.checklist_total),
                comments=_COMMENTS.format(n=count, s="" if count == 1 else "s") if count else "",
                menu=_MENU.format(key=key, items=items.replace(_SLOT, key), url=url)
                if items
                else "",
            )
        )
    return "".join(html)  # every value escaped above


@register.filter
def digest(value) -> str:
    """A short fingerprint of rendered HTML (column headers)."""
    return hashlib.blake2s(str(value).encode(), digest_size=8).hexdigest()


@register.filter
def cards_of(lane, status: str):
    """A lane's cards in one column."""
    return lane.cards(status)

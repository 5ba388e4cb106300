"""Markdown to safe HTML, in one place: markdown-it-py renders (GitHub-flavoured: lists right
after a paragraph line, tables, fenced code, strikethrough, task lists, autolinks), nh3
(ammonia) sanitises.

The renderer's work is bounded whatever the input: markdown-it-py parses in (close to) linear
time, blocks and inline markup nest at most `MAX_NESTING` deep, the source is at most
`MAX_SOURCE_CHARS` (longer text is shown as plain text) and autolinks are found by one linear
regular expression instead of linkify-it's. Descriptions and comments are rendered once, when
they are saved, and stored with `RENDERER_VERSION`; bump it whenever the output of
`render_markdown` changes, and stored HTML of an older version is rendered again (on the fly
until `manage.py rerender_markdown` has stored the new rendering).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

import nh3
from django.urls import reverse
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from mdit_py_plugins.tasklists import tasklists_plugin

from .limits import TEXT_MAX_CHARS

# Bump when the HTML that render_markdown produces for the same text changes.
RENDERER_VERSION = 2
MAX_SOURCE_CHARS = TEXT_MAX_CHARS
MAX_NESTING = 20

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "input", "li", "ol", "p", "pre", "s", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "abbr": {"title"},
    "td": {"style"},
    "th": {"style"},
    "code": {"class"},
    "input": {"checked"},
    "ol": {"start"},
}
# Classes the renderer sets; any other class a person types is dropped.
ALLOWED_CLASSES = {
    "a": {"mention"},
    "ul": {"contains-task-list"},
    "ol": {"contains-task-list"},
    "li": {"task-list-item"},
    "input": {"task-list-item-checkbox"},
}
# Forced on every such tag after cleaning: Bootstrap table styling, read-only checkboxes.
FORCED_ATTRIBUTES = {
    "table": {"class": "table table-sm table-bordered w-auto"},
    "input": {"type": "checkbox", "disabled": "disabled"},
}
# Column alignment from the table syntax is the only inline style kept.
ALLOWED_STYLES = {"text-align"}

# Same characters Django allows in usernames; a trailing dot ends the sentence, not the name.
MENTION_RE = re.compile(r"(?<![\w@./-])@([\w.+-]*[\w+-])")


def mentioned_usernames(text: str) -> list[str]:
    """`@name` tokens in the text, in order, without duplicates."""
    seen: dict[str, None] = {}
    for name in MENTION_RE.findall(text or ""):
        seen.setdefault(name, None)
    return list(seen)


# --- autolinks: GitHub's www. and http(s):// forms, one linear pass ------------------------

_AUTOLINK_RE = re.compile(r"(?<![\w/.@:-])(?:https?://|www\.)[^\s<>\"'`]{1,2000}", re.IGNORECASE)
_TRAILING = ".,:;!?*_~'\""


@dataclass
class _Link:
    schema: str | None
    index: int
    last_index: int
    text: str
    url: str


def _trim(candidate: str) -> str:
    # Trailing punctuation ends the sentence; a closing parenthesis only when unbalanced.
    while candidate:
        last = candidate[-1]
        if last in _TRAILING:
            candidate = candidate[:-1]
        elif last == ")" and candidate.count(")") > candidate.count("("):
            candidate = candidate[:-1]
        else:
            break
    return candidate


class _Linkify:
    """The interface markdown-it-py expects from linkify-it (`pretest`, `test`, `match`,
    `match_at_start`), backed by one regular expression without nested repetition."""

    def _links(self, text: str, *, at_start: bool = False) -> list[_Link]:
        found = []
        for match in _AUTOLINK_RE.finditer(text):
            if at_start and match.start() != 0:
                break
            candidate = _trim(match.group(0))
            host = candidate.split("://", 1)[-1]
            if len(host) < 4 or "." not in host:
                continue
            schema = None if candidate.lower().startswith("www.") else "http:"
            url = f"http://{candidate}" if schema is None else candidate
            found.append(
                _Link(schema, match.start(), match.start() + len(candidate), candidate, url)
            )
            if at_start:
                break
        return found

    def pretest(self, text: str) -> bool:
        lowered = text.lower()
        return "://" in lowered or "www." in lowered

    def test(self, text: str) -> bool:
        return bool(self._links(text))

    def match(self, text: str) -> list[_Link] | None:
        return self._links(text) or None

    def match_at_start(self, text: str) -> _Link | None:
        links = self._links(text, at_start=True)
        return links[0] if links else None


def _renderer() -> MarkdownIt:
    md = MarkdownIt(
        "gfm-like",
        {"html": True, "linkify": True, "typographer": False, "maxNesting": MAX_NESTING},
    )
    md.linkify = _Linkify()
    # Only the pass over finished text runs: the inline rule searches everything pending
    # before each "://" again (quadratic on text like "http://a.http://a.…").
    md.inline.ruler.disable("linkify")
    md.use(tasklists_plugin)
    return md


_MD = _renderer()


def _sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        set_tag_attribute_values=FORCED_ATTRIBUTES,
        filter_style_properties=ALLOWED_STYLES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener",
    )


def render_markdown(text: str, *, mentions: Iterable[tuple[str, int]] = ()) -> SafeString:
    """Sanitised HTML for Markdown text; `@username` of the given (username, id) pairs links to
    that person's open issues. Text longer than MAX_SOURCE_CHARS is shown as plain text."""
    text = text or ""
    if len(text) > MAX_SOURCE_CHARS:
        # Safe: escaped just here.
        return mark_safe(linebreaks(escape(text)))  # noqa: S308  # nosec B308 B703
    known = {username: user_id for username, user_id in mentions}
    if known:
        list_url = reverse("issue_list")

        def _link(match: re.Match) -> str:
            name = match.group(1)
            if name not in known:
                return match.group(0)
            return f'<a class="mention" href="{list_url}?owner={known[name]}">@{name}</a>'

        text = MENTION_RE.sub(_link, text)
    # Safe: nh3 sanitised it just here.
    return mark_safe(_sanitise(_MD.render(text)))  # noqa: S308  # nosec B308 B703


def stored_html(html: str, version: int, text: str) -> SafeString:
    """The HTML to show for a stored rendering: trusted only when this renderer made it (the
    current version), else rendered again from the text."""
    if version == RENDERER_VERSION:
        # Safe: written by render_markdown at save time (the version says so).
        return mark_safe(html)  # noqa: S308  # nosec B308 B703
    return render_markdown(text)

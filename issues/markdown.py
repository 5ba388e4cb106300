"""Markdown to safe HTML: Python-Markdown renders, nh3 (ammonia) sanitises. One place for both."""

import re
from collections.abc import Iterable

import markdown as md
import nh3
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "class"},
    "img": {"src", "alt", "title"},
    "abbr": {"title"},
    "td": {"align"},
    "th": {"align"},
    "code": {"class"},
}

# Same characters Django allows in usernames; a trailing dot ends the sentence, not the name.
MENTION_RE = re.compile(r"(?<![\w@./-])@([\w.+-]*[\w+-])")


def mentioned_usernames(text: str) -> list[str]:
    """`@name` tokens in the text, in order, without duplicates."""
    seen: dict[str, None] = {}
    for name in MENTION_RE.findall(text or ""):
        seen.setdefault(name, None)
    return list(seen)


def render_markdown(text: str, *, mentions: Iterable[tuple[str, int]] = ()) -> SafeString:
    """Sanitised HTML for Markdown text; `@username` of the given (username, id) pairs links to
    that person's open issues."""
    known = {username: user_id for username, user_id in mentions}
    if known:
        list_url = reverse("issue_list")

        def _link(match: re.Match) -> str:
            name = match.group(1)
            if name not in known:
                return match.group(0)
            return f'<a class="mention" href="{list_url}?owner={known[name]}">@{name}</a>'

        text = MENTION_RE.sub(_link, text)
    html = md.markdown(text or "", extensions=["fenced_code", "tables", "sane_lists"])
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener",
    )
    # Safe: nh3 sanitised it just above.
    return mark_safe(clean)  # noqa: S308  # nosec B308 B703

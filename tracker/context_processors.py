from functools import cache
from typing import NamedTuple

from django.templatetags.static import static
from django.urls import get_script_prefix, reverse

from projects.selectors import projects_for_request

# The top bar's fixed links and assets: the same on every page of a process (for a given
# script prefix), so they are worked out once, not by a dozen {% url %} and {% static %}
# tags per page (~1 ms of every page).
_NAV_URLS = (
    "home", "issue_list", "board", "triage", "project_list", "reports:dashboard", "issue_new",
    "profile", "password_change", "admin:index", "logout", "issue_export", "issue_filter_save",
    "issue_bulk",
)  # fmt: skip
# Project keys need no URL quoting: reverse() once per process, then put each key in the slot.
_KEY_SLOT = "KEY0"
_ASSETS = {
    "favicon": "favicon.svg",
    "bootstrap_css": "vendor/bootstrap/bootstrap.min.css",
    "icons_css": "vendor/bootstrap-icons/bootstrap-icons.min.css",
    "resolve_css": "css/resolve.css",
    "theme_js": "js/theme.js",
    "bootstrap_js": "vendor/bootstrap/bootstrap.bundle.min.js",
    "htmx_js": "vendor/htmx/htmx.min.js",
    "resolve_js": "js/resolve.js",
}


@cache
def _fixed(script_prefix: str) -> dict:
    return {
        "url": {name.replace(":", "_"): reverse(name) for name in _NAV_URLS},
        "asset": {key: static(path) for key, path in _ASSETS.items()},
        "project_url": reverse("project_detail", args=[_KEY_SLOT]),
    }


class NavProject(NamedTuple):
    key: str
    name: str
    url: str


def navigation(request):
    """What the top bar needs on every page."""
    fixed = _fixed(get_script_prefix())
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": fixed}

    def nav_projects():
        # Called by the template only when it shows the menu (a callable is resolved lazily);
        # shares the per-request list the issue list already loaded.
        pattern = fixed["project_url"]
        return [
            NavProject(p.key, p.name, pattern.replace(_KEY_SLOT, p.key))
            for p in projects_for_request(request)
            if p.archived_at is None
        ]

    return {"nav": fixed, "nav_projects": nav_projects}

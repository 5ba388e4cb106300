from projects.selectors import projects_for_request


def navigation(request):
    """What the top bar needs on every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def nav_projects():
        # Called by the template only when it shows the menu (a callable is resolved lazily);
        # shares the per-request list the issue list already loaded.
        return [p for p in projects_for_request(request) if p.archived_at is None]

    return {"nav_projects": nav_projects}

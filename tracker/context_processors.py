def navigation(request):
    """What the top bar needs on every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from projects.selectors import projects_visible_to

    return {"nav_projects": projects_visible_to(user).active().only("key", "name")}

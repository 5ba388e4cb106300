"""Components and versions named in API payloads, found in the issue's project."""

from projects.models import Component, Project, Version

from .errors import ApiError


def resolve_shape(project: Project, names: dict[str, str | None]) -> dict:
    """Names of a component and versions -> the project's rows (None clears); a name the
    project lacks is 422. Shared with filing an issue (`api.issues.file_issue`)."""
    changes: dict = {}
    for field, name in names.items():
        if name is None or not name.strip():
            changes[field] = None
            continue
        model = Component if field == "component" else Version
        if "\x00" in name:
            raise ApiError(
                422, "invalid_field", "Names cannot contain NUL characters.", field=field
            )
        found = model.objects.filter(project=project, name=name.strip()).first()
        if found is None:
            kind = "component" if field == "component" else "version"
            raise ApiError(
                422,
                "invalid_field",
                f"{project.key} has no {kind} called “{name.strip()}”.",
                field=field,
            )
        changes[field] = found
    return changes

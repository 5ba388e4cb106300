"""The full-text search document of issues: one definition of what is indexed, the SQL that
fills it on insert and recomputes it, used by the services and by bench seeding."""

from collections.abc import Iterable

from django.db import connection
from django.db.models.expressions import RawSQL

# The full-text document of an issue: key and title weigh most, then description, then comments.
# One definition, used by the services and by seed_bench (which fills it in while inserting).
SEARCH_DOCUMENT_SQL = (
    "setweight(to_tsvector('simple', {key}), 'A')"
    " || setweight(to_tsvector('english', {title}), 'A')"
    " || setweight(to_tsvector('english', {description}), 'B')"
    " || setweight(to_tsvector('english', {comments}), 'C')"
)
# Constant SQL (no user input).
_SEARCH_VECTOR_SQL = (
    "UPDATE issues_issue AS i SET search_vector = "  # noqa: S608  # nosec B608
    + SEARCH_DOCUMENT_SQL.format(
        key="p.key || ' ' || i.number::text",
        title="i.title",
        description="i.description",
        comments="coalesce((SELECT string_agg(c.body, ' ') FROM issues_comment AS c"
        " WHERE c.issue_id = i.id), '')",
    )
    + " FROM projects_project AS p WHERE p.id = i.project_id"
)


# The document of an issue being inserted (no comments yet), as an INSERT value: the same
# document `_SEARCH_VECTOR_SQL` derives, without a second statement. Constant SQL.
_NEW_ISSUE_DOCUMENT_SQL = SEARCH_DOCUMENT_SQL.format(
    key="%s", title="%s", description="%s", comments="''"
)


def new_issue_document(key: str, title: str, description: str) -> RawSQL | None:
    """The search document of a new issue with this key, for `Issue.objects.create(
    search_vector=…)`; None (left empty) off PostgreSQL."""
    if connection.vendor != "postgresql":
        return None
    # Constant SQL; the values go as parameters.
    return RawSQL(_NEW_ISSUE_DOCUMENT_SQL, [key, title, description])  # noqa: S611  # nosec B611


def refresh_search_vectors(issue_ids: Iterable[int] | None = None) -> None:
    """Recompute the full-text document of these issues (all when None). PostgreSQL only."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if issue_ids is None:
            cursor.execute(_SEARCH_VECTOR_SQL)
        else:
            cursor.execute(_SEARCH_VECTOR_SQL + " AND i.id = ANY(%s)", [list(issue_ids)])

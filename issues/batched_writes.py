"""Issue keys and the writes filers share: a project's next key under its counter row's lock,
and `batched_issue_writes`, which lets batches that file many issues and comments in one
transaction (mail in) allocate their keys and touch their issues only as they end."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from projects.models import Project

from .models import Issue
from .search_documents import _SEARCH_VECTOR_SQL, SEARCH_DOCUMENT_SQL


def _next_issue_number(project: Project) -> int:
    # The row lock serialises concurrent creators: no gaps, no duplicates. One UPDATE …
    # RETURNING takes FOR NO KEY UPDATE (the key columns do not change), not FOR UPDATE: rows
    # that only reference the project (a stored mail message, an SDK event, another
    # project's issue) take KEY SHARE on it and must not wait for the creator's commit.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE projects_project SET last_issue_number = last_issue_number + 1"
            " WHERE id = %s RETURNING last_issue_number",
            [project.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise Project.DoesNotExist(f"No project with id {project.pk}.")
    project.last_issue_number = row[0]
    return int(row[0])


def _new_issue_number(project: Project) -> tuple[int, bool]:
    """The number of an issue about to be inserted, and whether it is a placeholder: inside
    `batched_issue_writes` the key is allocated when the batch ends (`_number_at_batch_end`
    registers the issue), otherwise now (`_next_issue_number`)."""
    batch = _write_batch.get()
    if batch is None:
        return _next_issue_number(project), False
    return batch.placeholder(project.pk), True


def _number_at_batch_end(issue: Issue) -> None:
    batch = _write_batch.get()
    if batch is None:  # pragma: no cover - only called for a placeholder
        raise RuntimeError("No write batch to number the issue in.")
    batch.new_issues.setdefault(issue.project_id, {})[issue.pk] = issue


def _touch(issue: Issue) -> None:
    # Activity moves the issue up the list without bumping the edit version.
    Issue.objects.filter(pk=issue.pk).update(updated_at=timezone.now())


def _touch_and_reindex(issue: Issue) -> None:
    """`_touch` and `refresh_search_vectors([issue.pk])` in one statement (PostgreSQL); in a
    `batched_issue_writes` block, once for every issue touched, when the block ends."""
    if connection.vendor != "postgresql":
        _touch(issue)
        return
    batch = _write_batch.get()
    if batch is not None:
        batch.touched.add(issue.pk)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _SEARCH_VECTOR_SQL.replace(
                "SET search_vector =", "SET updated_at = %s, search_vector =", 1
            )
            + " AND i.id = %s",
            [timezone.now(), issue.pk],
        )


# --- Batched writes: many issues and comments filed in one transaction (mail in) -----------
# The number a new issue has until its batch allocates its key: above every real key (the
# column is a 32-bit integer), unique per database session (its backend pid) and per slot, so
# two batches filing at once never wait on each other's placeholder in the unique index.
_PLACEHOLDER_TOP = 2**31 - 1
_PLACEHOLDER_SLOTS = 256  # per session and project; a batch past it allocates keys early
_PLACEHOLDER_PIDS = 4_194_304  # Linux's largest pid_max: the placeholders stay above 2**30

# Allocate the keys of a batch's new issues of one project: the survivors (an issue rolled
# back to its savepoint has no row left, so keys stay gap-free) in the order they were
# inserted, the counter moved on by their number, and the search document made with the real
# key, the same document `new_issue_document` gives (a new issue has no comments).
_ALLOCATE_KEYS_SQL = (  # Constant SQL; the values go as parameters.
    "WITH todo AS ("  # noqa: S608  # nosec B608
    " SELECT id, row_number() OVER (ORDER BY id) AS n, count(*) OVER () AS total"
    " FROM issues_issue WHERE project_id = %(project)s AND id = ANY(%(ids)s)"
    "), counter AS ("
    " UPDATE projects_project SET last_issue_number = last_issue_number"
    " + (SELECT count(*) FROM todo) WHERE id = %(project)s"
    " RETURNING key, last_issue_number"
    ") UPDATE issues_issue AS i"
    " SET number = counter.last_issue_number - todo.total + todo.n, search_vector = "
    + SEARCH_DOCUMENT_SQL.format(
        key="counter.key || ' ' || (counter.last_issue_number - todo.total + todo.n)::text",
        title="i.title",
        description="i.description",
        comments="''",
    )
    + " FROM todo, counter WHERE i.id = todo.id RETURNING i.id, i.number"
)


@dataclass
class _WriteBatch:
    pid: int | None = None
    handed_out: dict[int, int] = field(default_factory=dict)  # project id -> placeholders
    new_issues: dict[int, dict[int, Issue]] = field(default_factory=dict)  # project -> id -> issue
    touched: set[int] = field(default_factory=set)

    def placeholder(self, project_id: int) -> int:
        if self.pid is None:
            connection.ensure_connection()
            # psycopg knows it from the connection's start-up (behind a pooler, the pooler's
            # key: a clash would only make one batch wait for the other's commit).
            self.pid = int(connection.connection.info.backend_pid) % _PLACEHOLDER_PIDS
        slot = self.handed_out.get(project_id, 0)
        if slot == _PLACEHOLDER_SLOTS:  # every slot in use: number them now, slots free again
            _allocate_keys(self, project_id)
            slot = 0
        self.handed_out[project_id] = slot + 1
        return _PLACEHOLDER_TOP - self.pid * _PLACEHOLDER_SLOTS - slot


_write_batch: ContextVar[_WriteBatch | None] = ContextVar("issue_write_batch", default=None)


@contextmanager
def batched_issue_writes() -> Iterator[None]:
    """Within this block (inside the one transaction of a batch that files many issues and
    comments: mail in), the two writes that lock rows other filers share wait for the block's
    end, so two such batches run in parallel:

    - a new issue is inserted with a placeholder number; as the block ends, the keys of all its
      new issues are allocated in one `UPDATE … RETURNING` per project, so the project's
      counter row (`FOR NO KEY UPDATE`) is held only from then to the commit, not from the
      first new issue on. Keys stay gap-free and unique: a message rolled back to its
      savepoint leaves no row to number, and the counter moves only under its row lock.
    - a comment's touch of its issue (`updated_at` and the search document) is one statement
      for every issue commented on, taking their rows in id order.

    Every batch takes issue rows (by id), then counters (by project id): two never deadlock.
    The form and the API file one issue per transaction and never enter this block. Off
    PostgreSQL (which writes one transaction at a time anyway) nothing waits."""
    if connection.vendor != "postgresql" or _write_batch.get() is not None:
        yield
        return
    if not connection.in_atomic_block:
        raise RuntimeError("batched_issue_writes() belongs inside the batch's transaction.")
    batch = _WriteBatch()
    token = _write_batch.set(batch)
    try:
        yield
    finally:
        _write_batch.reset(token)
    _flush_write_batch(batch)  # not reached when the block failed: its transaction rolls back


def _flush_write_batch(batch: _WriteBatch) -> None:
    if batch.touched:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM issues_issue WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE",
                [sorted(batch.touched)],
            )
            cursor.execute(
                _SEARCH_VECTOR_SQL.replace(
                    "SET search_vector =", "SET updated_at = %s, search_vector =", 1
                )
                + " AND i.id = ANY(%s)",
                [timezone.now(), sorted(batch.touched)],
            )
    for project_id in sorted(batch.new_issues):
        _allocate_keys(batch, project_id)


def _allocate_keys(batch: _WriteBatch, project_id: int) -> None:
    issues = batch.new_issues.pop(project_id, {})
    batch.handed_out.pop(project_id, None)
    if not issues:
        return
    with connection.cursor() as cursor:
        cursor.execute(_ALLOCATE_KEYS_SQL, {"project": project_id, "ids": list(issues)})
        numbered = cursor.fetchall()
    for issue_id, number in numbered:
        issues[issue_id].number = number

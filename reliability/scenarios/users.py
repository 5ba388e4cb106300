"""Simulated users (the load and outage scenarios): what each does and checks, and the
writes they leave behind."""

from __future__ import annotations

import random
import threading
import time
import uuid

import requests

from reliability.servers import Browser
from reliability.world import World


def _issue_key(location: str) -> str:
    return location.rstrip("/").split("/")[-1].split("#")[0]


class Activity:
    """The user-visible actions, with their outcomes and timings."""

    def __init__(self, base: str):
        self.base = base
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {}
        self.status: dict[str, int] = {}
        self.errors: list[str] = []
        self.filed: list[str] = []  # titles of accepted issues
        self.comments: list[str] = []  # bodies of accepted comments
        self.moves: dict[str, int] = {}  # issue key -> accepted transitions
        self.keys: list[str] = []
        self.mine: list[str] = []  # issues filed by this run: New or Assigned, safe to move

    def _note(self, page: str, started: float, code: int | None, detail: str = "") -> None:
        with self.lock:
            self.times.setdefault(page, []).append(time.monotonic() - started)
            bucket = f"{code}" if code else "conn-error"
            self.status[bucket] = self.status.get(bucket, 0) + 1
            if detail:
                self.errors.append(detail)

    def act(self, b: Browser, action: str, project_id: int) -> None:

        started = time.monotonic()
        try:
            if action == "list":
                r = b.get("/issues/", params=random.choice(
                    [{"status": "new"}, {"priority": "2"}, {"q": "checkout"}, {"project": project_id,
                     "sort": "-updated"}, {}]))  # fmt: skip
                ok = r.status_code == 200
            elif action == "open":
                r = b.get(f"/issues/{random.choice(self.keys)}/")
                ok = r.status_code == 200
            elif action == "file":
                title = f"load {uuid.uuid4().hex}"
                # WEB (the demo data) asks for "Affected customers" before an issue is Assigned:
                # the reporter fills it in, as a person would, so the issue can be moved later.
                r = b.post("/issues/new/", {"project": project_id, "title": title, "type": "bug",
                                            "priority": 2, "severity": 2, "description": "x",
                                            "cf_affected_customers": random.randint(1, 500)})  # fmt: skip
                ok = r.status_code == 302
                if ok:
                    with self.lock:
                        self.filed.append(title)
                        self.keys.append(_issue_key(r.headers["Location"]))
                        self.mine.append(self.keys[-1])
            elif action == "comment":
                body = f"comment {uuid.uuid4().hex}"
                r = b.post(f"/issues/{random.choice(self.keys)}/comments/", {"body": body})
                ok = r.status_code == 302
                if ok:
                    with self.lock:
                        self.comments.append(body)
            else:  # transition: assign a New issue or take it back (a race is a fair 409)
                if not self.mine:
                    return
                key = random.choice(self.mine)
                page = b.get(f"/issues/{key}/")
                if page.status_code != 200:
                    self._note(
                        "transition", started, page.status_code, f"open {key}: {page.status_code}"
                    )
                    return
                if f'action="/issues/{key}/transition/assigned/"' in page.text:
                    data = {"assign-expected_status": "new", "assign-owner": self.developer_id}
                    r = b.post(f"/issues/{key}/transition/assigned/", data)
                else:
                    data = {"unassign-expected_status": "assigned", "unassign-reason": "load"}
                    r = b.post(f"/issues/{key}/transition/new/", data)
                ok = r.status_code in (302, 409, 403)
                if r.status_code == 302:
                    with self.lock:
                        self.moves[key] = self.moves.get(key, 0) + 1
            self._note(action, started, r.status_code, "" if ok else f"{action}: {r.status_code}")
            if r.status_code >= 500 and "Traceback" in r.text:
                self._note(action, started, r.status_code, f"{action}: traceback shown")
        except requests.RequestException as exc:
            self._note(action, started, None, f"{action}: {type(exc).__name__}")


def _load_context(w: World, a: Activity):
    # Django is set up only once World.boot() has configured it: import the app here.
    from django.contrib.auth import get_user_model

    from issues.models import Issue
    from projects.models import Project

    project = Project.objects.get(key="WEB")
    a.keys = [i.key for i in Issue.objects.filter(project=project).select_related("project")[:40]]
    a.developer_id = get_user_model().objects.get(username="developer").pk
    return project


def _check_writes(w: World, a: Activity, since) -> tuple[int, int, int, int]:
    """(accepted writes, missing or duplicated in the tables, missing or duplicated in the audit
    trail, transitions whose history count differs)."""
    # Django is set up only once World.boot() has configured it: import the app here.
    from django.db.models import Count

    from issues.models import Comment, EventKind, Issue, IssueEvent

    issues = dict(
        Issue.objects.filter(title__in=a.filed).values_list("title").annotate(n=Count("id"))
    )
    bad_rows = sum(1 for t in a.filed if issues.get(t) != 1) + len(a.filed) - len(set(a.filed))
    created = IssueEvent.objects.filter(kind=EventKind.CREATED, issue__title__in=a.filed).count()
    comments = dict(
        Comment.objects.filter(body__in=a.comments).values_list("body").annotate(n=Count("id"))
    )
    bad_rows += sum(1 for c in a.comments if comments.get(c) != 1)
    comment_ids = list(Comment.objects.filter(body__in=a.comments).values_list("id", flat=True))
    commented = IssueEvent.objects.filter(
        kind=EventKind.COMMENTED, data__comment_id__in=comment_ids
    ).count()
    bad_audit = abs(created - len(a.filed)) + abs(commented - len(a.comments))
    bad_moves = 0
    for key, n in a.moves.items():
        number = int(key.rsplit("-", 1)[1])
        got = IssueEvent.objects.filter(
            issue__project__key="WEB", issue__number=number, kind=EventKind.TRANSITIONED,
            created_at__gte=since,
        ).count()  # fmt: skip
        bad_moves += got != n
    return len(a.filed) + len(a.comments) + sum(a.moves.values()), bad_rows, bad_audit, bad_moves


def _run_users(
    w: World,
    a: Activity,
    base: str,
    users: int,
    seconds: float,
    weights,
    think: tuple[float, float] | None = None,
) -> None:
    """`users` signed-in browsers acting for `seconds`. `think` (min, max seconds): each user
    pauses a random time in that range between actions, and starts after a random part of it
    (no thundering herd at second 0); None: back to back (closed-loop stress)."""
    personas = ["manager", "developer", "tester", "reporter"]
    browsers = [Browser(base, personas[i % 4]) for i in range(users)]
    project = _load_context(w, a)
    stop = time.monotonic() + seconds
    actions, probs = zip(*weights, strict=True)

    def pause(low: float, high: float) -> None:
        time.sleep(max(0.0, min(random.uniform(low, high), stop - time.monotonic())))  # nosec B311

    def user(b: Browser) -> None:
        if think:
            pause(0, think[1])
        while time.monotonic() < stop:
            action = random.choices(actions, probs)[0]  # nosec B311
            if action == "transition" and b.username not in ("manager", "developer"):
                action = "open"
            a.act(b, action, project.pk)
            if think:
                pause(*think)

    threads = [threading.Thread(target=user, args=(b,)) for b in browsers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

"""An issue's links for people's scripts: read, add and remove, with the pages' rules.

The other end of a link goes through the access selector (`issues.selectors.links_for_viewer`):
one in a project the token's user cannot see is listed as hidden, without key, title or URL.
Adding or removing a link is `issues.services.link_issues` / `unlink_issues`, which refuse
unless the user may change both issues (403, nothing written).
"""

from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema, Status

from issues.models import Issue, LinkKind
from issues.selectors import (
    HIDDEN_LINKED_ISSUE,
    LinkRow,
    get_issue_for_user,
    get_link_of_issue,
    links_for_viewer,
)
from issues.services import IssueAccessError, IssueError, link_issues, unlink_issues

from .auth import PersonalTokenAuth, token_user
from .errors import ApiError, ErrorOut

router = Router(tags=["links"], auth=PersonalTokenAuth())


class LinkedIssueOut(Schema):
    key: str
    title: str
    url: str


class LinkOut(Schema):
    id: int
    kind: str = Field(..., description="relates, blocks or duplicates (stored from the source)")
    label: str = Field(..., description="From this issue's side, e.g. “is blocked by”")
    hidden: bool = Field(
        ..., description="True when the other issue is in a project you cannot see"
    )
    issue: LinkedIssueOut | None = Field(..., description="The other issue; null when hidden")
    text: str = Field(..., description="What the issue page shows for the other issue")


class LinkIn(Schema):
    target: str = Field(..., min_length=1, max_length=30, description="The other issue, e.g. WEB-7")
    kind: str = Field(..., max_length=20, description="relates, blocks or duplicates")


def _link_out(request: HttpRequest, row: LinkRow) -> dict:
    other = row.other
    return {
        "id": row.link.pk,
        "kind": row.link.kind,
        "label": row.label,
        "hidden": other is None,
        "issue": None
        if other is None
        else {
            "key": other.key,
            "title": other.title,
            "url": request.build_absolute_uri(other.get_absolute_url()),
        },
        "text": HIDDEN_LINKED_ISSUE if other is None else f"{other.key} {other.title}",
    }


def _issue(request: HttpRequest, key: str) -> Issue:
    if "\x00" in key:
        raise ApiError(404, "not_found", "No such issue.")
    return get_issue_for_user(token_user(request), key)


@router.get(
    "/{key}/links",
    response={200: list[LinkOut], 401: ErrorOut, 404: ErrorOut},
    summary="The issue's links, both directions (other projects' issues hidden)",
)
def list_links(request: HttpRequest, key: str) -> Status:
    issue = _issue(request, key)
    return Status(
        200, [_link_out(request, row) for row in links_for_viewer(issue, token_user(request))]
    )


@router.post(
    "/{key}/links",
    response={201: LinkOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Link the issue to another one you may change",
    description="400: bad kind, a link to itself or one that exists; 404: no issue with the "
    "target key that you can see (`field`: target).",
)
def add_link(request: HttpRequest, key: str, payload: LinkIn) -> Status:
    issue = _issue(request, key)
    if payload.kind not in LinkKind.values:
        raise ApiError(400, "invalid_field", "“kind”: relates, blocks or duplicates.", field="kind")
    try:
        target = _issue(request, payload.target)
    except Http404:
        raise ApiError(
            404, "not_found", "No issue with this key that you can see.", field="target"
        ) from None
    try:
        link = link_issues(issue, target=target, kind=payload.kind, actor=token_user(request))
    except IssueAccessError as error:
        raise ApiError(403, "forbidden", str(error), field=error.field or "") from None
    except IssueError as error:
        raise ApiError(400, "invalid_field", str(error), field=error.field or "") from None
    row = next(r for r in links_for_viewer(issue, token_user(request)) if r.link.pk == link.pk)
    return Status(201, _link_out(request, row))


@router.delete(
    "/{key}/links/{link_id}",
    response={204: None, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Remove one of the issue's links (you must be able to change both issues)",
)
def remove_link(request: HttpRequest, key: str, link_id: int) -> Status:
    issue = _issue(request, key)
    if not 0 < link_id < 2**63:
        raise ApiError(404, "not_found", "No such link.")
    link = get_link_of_issue(issue, link_id)
    try:
        unlink_issues(link, actor=token_user(request))
    except IssueAccessError as error:
        raise ApiError(403, "forbidden", str(error)) from None
    except IssueError as error:
        raise ApiError(400, "link_refused", str(error)) from None
    return Status(204, None)

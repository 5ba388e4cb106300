"""Issue pages. Thin: fetch through the access selectors, GET renders, POST calls one service.

A package by page: the list (and its export, bulk edit, saved filters), filing a new issue, and
one issue's page with what it posts. The views are importable from here, as the URLs use them.
"""

from .detail import (
    attachment_download,
    issue_attach,
    issue_comment,
    issue_detail,
    issue_edit,
    issue_link,
    issue_timeline,
    issue_unlink,
    issue_watch,
)
from .filing import issue_new, issue_similar
from .listing import filter_delete, filter_save, issue_bulk, issue_export, issue_list

__all__ = [
    "attachment_download",
    "filter_delete",
    "filter_save",
    "issue_attach",
    "issue_bulk",
    "issue_comment",
    "issue_detail",
    "issue_edit",
    "issue_export",
    "issue_link",
    "issue_list",
    "issue_new",
    "issue_similar",
    "issue_timeline",
    "issue_unlink",
    "issue_watch",
]

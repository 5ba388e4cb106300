"""Issues for people's scripts: `Authorization: Bearer rsp_…` (a personal API token).

Exactly the web pages' access rules: `issues.selectors.get_issue_for_user`,
`issues_visible_to` and `projects.selectors.get_project_for_user` (another project's issue
answers 404). Writes go through the same services as the pages: `create_issue`,
`add_comment`, `workflows.services.transition_issue`. The list uses the list page's
`issues.filters.IssueFilter` on the request's query string (one definition of the filters);
`IssueListQuery` only documents and type-checks those parameters (a test keeps them equal).
"""

from .listing import PAGE_SIZES, IssueListQuery, list_issues, read_issue
from .schemas import (
    ClosureOut,
    CommentOut,
    CustomFieldsIn,
    IssueDetailOut,
    IssueIn,
    IssueOut,
    IssuePageOut,
    IssueSummaryOut,
    IssueTypeName,
    SlaOut,
    SlaSummaryOut,
    TransitionFieldOut,
    TransitionOut,
    router,
)
from .shaping import issue_detail_out, issue_out, issue_summary_out
from .writing import (
    TRANSITION_FIELDS,
    CommentIn,
    TransitionIn,
    change_custom_fields,
    comment_issue,
    file_issue,
    transition,
)

__all__ = [
    "ClosureOut",
    "CommentIn",
    "CommentOut",
    "CustomFieldsIn",
    "IssueDetailOut",
    "IssueIn",
    "IssueListQuery",
    "IssueOut",
    "IssuePageOut",
    "IssueSummaryOut",
    "IssueTypeName",
    "PAGE_SIZES",
    "SlaOut",
    "SlaSummaryOut",
    "TRANSITION_FIELDS",
    "TransitionFieldOut",
    "TransitionIn",
    "TransitionOut",
    "change_custom_fields",
    "comment_issue",
    "file_issue",
    "issue_detail_out",
    "issue_out",
    "issue_summary_out",
    "list_issues",
    "read_issue",
    "router",
    "transition",
]

import pytest

from issues.models import Severity, Status
from projects.models import Role
from tests.factories import MembershipFactory, UserFactory, make_issue
from workflows.services import transition_issue


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Many personas per test: a fast hasher keeps the suite quick (hashing is not under test)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def other_dev(project):
    user = UserFactory(username="devon")
    MembershipFactory(project=project, user=user, role=Role.DEVELOPER)
    return user


@pytest.fixture
def cast(manager, developer, tester, reporter, outsider, admin_user, other_dev):
    """Everyone, by the name the tests use: `owner` is the developer who owns the issue."""
    return {
        "manager": manager,
        "owner": developer,
        "other_dev": other_dev,
        "tester": tester,
        "reporter": reporter,
        "outsider": outsider,
        "admin": admin_user,
    }


# How to get an issue into each status, as the right people.
PATH = {
    Status.ASSIGNED: (Status.NEW, "manager", "assign"),
    Status.REVISE: (Status.ASSIGNED, "owner", "start"),
    Status.RETEST: (Status.REVISE, "owner", "submit"),
    Status.FIXED: (Status.RETEST, "tester", "verify"),
    Status.CLOSED: (Status.FIXED, "manager", "close"),
}


def data_for(name, cast):
    return {
        "assign": {"owner": cast["owner"].pk},
        "unassign": {"reason": "Wrong component"},
        "start": {},
        "submit": {"fix_summary": "Raised the pool size"},
        "fail": {"failure": "Still times out with 50 users"},
        "verify": {},
        "close": {
            "resolution_summary": "Pool size raised",
            "root_cause": "configuration",
            "lessons_learned": "Load-test before release",
        },
        "reopen": {"reopen_reason": "Seen again"},
        "dismiss": {"resolution": "wont_fix"},
    }[name]


TARGET = {
    "assign": Status.ASSIGNED,
    "unassign": Status.NEW,
    "start": Status.REVISE,
    "submit": Status.RETEST,
    "fail": Status.REVISE,
    "verify": Status.FIXED,
    "close": Status.CLOSED,
    "reopen": Status.ASSIGNED,
    "dismiss": Status.CLOSED,
}


@pytest.fixture
def walk(cast):
    """walk(issue, status): move the issue along the happy path up to `status`."""

    def _walk(issue, status):
        if issue.status == status or status == Status.NEW:
            return issue
        source, who, name = PATH[status]
        _walk(issue, source)
        transition_issue(issue, status, actor=cast[who], **data_for(name, cast))
        return issue

    return _walk


@pytest.fixture
def issue(project, reporter):
    return make_issue(project, reporter, severity=Severity.MAJOR)

"""The workflow's domain errors; `str(error)` is the message shown to the user."""


class WorkflowError(Exception):
    """A refused transition or SLA change; `str(error)` is the message shown to the user.

    `field` names the form field the message belongs to (None: the whole action).
    """

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TransitionForbidden(WorkflowError):
    """The user may not take this transition (403)."""

    status_code = 403


class StaleTransition(WorkflowError):
    """The issue is no longer in the status the user saw (409)."""

    status_code = 409

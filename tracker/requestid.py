"""The id of the request being served, for log records (no Django imports: the logging
configuration loads this module before the apps are ready)."""

import logging
from contextvars import ContextVar

_current: ContextVar[str] = ContextVar("request_id", default="-")


def current_request_id() -> str:
    return _current.get()


def set_request_id(request_id: str):
    return _current.set(request_id)


def reset_request_id(token) -> None:
    _current.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record: the request's (RequestIdMiddleware) or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or _current.get()
        return True

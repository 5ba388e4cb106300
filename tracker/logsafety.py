"""Secrets never reach a log line.

Intake webhooks may carry their token in the URL (`?token=rsi_…`, for tools such as Sentry
that cannot send headers), and a request line or a URL in an error message would print it.
`redact` blanks the value of any `token`-like query parameter and any Resolve token (`rsi_…`,
`rsp_…`) wherever it appears; `RedactSecrets` applies it to every record of the handler or
logger it is attached to: Django's console and `django.server` handlers (settings.LOGGING)
and gunicorn's access and error logs (`RedactingGunicornLogger`, named in gunicorn.conf.py).
"""

import logging
import re

from gunicorn.glogging import Logger as GunicornLogger

_SECRET_PARAM = re.compile(
    r"(?i)((?:^|[?&;\s\"'])(?:token|access_token|api_key|apikey)=)[^&;\s\"']*"
)
_RESOLVE_TOKEN = re.compile(r"\b(rs[ip])_[A-Za-z0-9_\-]{6,}")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    if "=" in text:
        text = _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    if "rs" in text:
        text = _RESOLVE_TOKEN.sub(lambda m: f"{m.group(1)}_{REDACTED}", text)
    return text


class RedactSecrets(logging.Filter):
    """A logging filter that rewrites the record's message with `redact` (never drops it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is left to the handler
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's logger with `RedactSecrets` on the access log (the request line and query
    string) and the error log ("Error handling request /path?token=…")."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactSecrets) for f in log.filters):
                log.addFilter(RedactSecrets())

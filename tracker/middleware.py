"""Request ids for every request, and the browser-only middleware, skipped for the JSON API.

Every request under `/api/` authenticates with a token in the Authorization header (or, for
intake webhooks, the `token` query parameter); none reads the session, the signed-in user,
their time zone or flash messages. Loading those for every API request cost about a tenth
of the Python time of an intake event, so on API paths these subclasses pass the request
straight on: no session is loaded or saved (no `Vary: Cookie`), `request.user` is anonymous
until the API's token authentication sets it, and dates use UTC. Pages are unchanged; the
security headers (SecurityMiddleware, X-Frame-Options, CSP) and CSRF stay on every path.
"""

import logging
import re
import uuid

from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.auth.middleware import get_user
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware as _Messages
from django.contrib.sessions.middleware import SessionMiddleware as _Sessions
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from accounts.backends import BACKEND, LEGACY_BACKEND
from accounts.middleware import UserTimezoneMiddleware as _UserTimezone

from .requestid import reset_request_id, set_request_id

API_PREFIX = "/api/"
_log = logging.getLogger("resolve.https")


def is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


class SessionMiddleware(_Sessions):
    def __call__(self, request):
        if is_api(request):
            return self.get_response(request)
        return super().__call__(request)


class AuthenticationMiddleware(_Authentication):
    def __call__(self, request):
        if is_api(request):
            request.user = AnonymousUser()
            return self.get_response(request)
        return super().__call__(request)

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _signed_in_user(request))


def _signed_in_user(request):
    session = request.session
    if session.get(BACKEND_SESSION_KEY) == LEGACY_BACKEND:
        # Signed in through Django's ModelBackend, which accounts.backends.UserBackend
        # replaced (the same users and passwords): the session stays signed in.
        session[BACKEND_SESSION_KEY] = BACKEND
    return get_user(request)


class UserTimezoneMiddleware(_UserTimezone):
    def __call__(self, request):
        if is_api(request):
            timezone.deactivate()  # a page served by this thread may have activated one
            return self.get_response(request)
        return super().__call__(request)


class MessageMiddleware(_Messages):
    def __call__(self, request):
        if is_api(request):
            return self.get_response(request)
        return super().__call__(request)


# --- request ids: one per request, in every log line it causes and on its error page ---------

_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{8,64}", re.ASCII)


class RequestIdMiddleware:
    """Gives each request an id (a proxy's well-formed `X-Request-ID`, else a new one), puts it
    in every log record made while serving it (tracker.requestid.RequestIdFilter), and
    returns it in the `X-Request-ID` header; error pages and API errors show it too, so a
    user can quote it and whoever runs Resolve finds the traceback."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response["X-Request-ID"] = request_id
        return response


class PlainHttpNoticeMiddleware:
    """Says so, loudly and once, when plain HTTP meets the HTTPS-only settings.

    With DEBUG off Resolve is HTTPS-only by default: plain-HTTP requests are redirected to
    https:// and the session and CSRF cookies are Secure. Served on plain HTTP (localhost,
    or behind a proxy that terminates TLS but is not trusted), that is a redirect loop or a
    login that never sticks, with nothing in the log. This logs the mode at start-up and a
    warning naming the fix the first time a plain-HTTP request is redirected (README,
    "Production stack"). Costs one attribute check per request.
    """

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.redirecting = bool(settings.SECURE_SSL_REDIRECT)
        self.trusts_proxy = bool(getattr(settings, "SECURE_PROXY_SSL_HEADER", None))
        self.exempt = [re.compile(r) for r in settings.SECURE_REDIRECT_EXEMPT]
        self.warned = False
        if self.redirecting:
            _log.info(
                "HTTPS only: plain-HTTP requests are redirected to https:// and cookies are "
                "Secure. Behind a proxy that terminates TLS set BEHIND_PROXY=true (trusts its "
                "X-Forwarded-Proto); to serve plain HTTP set HTTPS=false.%s",
                " X-Forwarded-Proto is trusted." if self.trusts_proxy else "",
            )

    def __call__(self, request):
        if (
            self.redirecting
            and not self.warned
            and not request.is_secure()
            and not any(r.search(request.path.lstrip("/")) for r in self.exempt)
        ):
            self.warned = True
            forwarded = request.META.get("HTTP_X_FORWARDED_PROTO", "")
            if forwarded and not self.trusts_proxy:
                why = (
                    f"it carries X-Forwarded-Proto: {forwarded}, which is not trusted "
                    "(BEHIND_PROXY is off), so every request looks like plain HTTP: a "
                    "redirect loop. Set BEHIND_PROXY=true if the proxy terminates TLS."
                )
            else:
                why = (
                    "it is redirected to https://, and the Secure session cookie is never "
                    "sent back over plain HTTP. Serve HTTPS, set BEHIND_PROXY=true behind a "
                    "TLS-terminating proxy, or set HTTPS=false to serve plain HTTP."
                )
            _log.warning(
                "A plain-HTTP request (%s %s) met the HTTPS-only settings: %s",
                request.method,
                request.path,
                why,
            )
        return self.get_response(request)

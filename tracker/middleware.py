"""Request ids for every request, and the browser-only middleware, skipped for the JSON API.

Every request under `/api/` authenticates with a token in the Authorization header (or, for
intake webhooks, the `token` query parameter); none reads the session, the signed-in user,
their time zone or flash messages. Loading those for every API request cost about a tenth
of the Python time of an intake event, so on API paths these subclasses pass the request
straight on: no session is loaded or saved (no `Vary: Cookie`), `request.user` is anonymous
until the API's token authentication sets it, and dates use UTC. Pages are unchanged; the
security headers (SecurityMiddleware, X-Frame-Options, CSP) and CSRF stay on every path.
"""

import re
import uuid

from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware as _Messages
from django.contrib.sessions.middleware import SessionMiddleware as _Sessions
from django.utils import timezone

from accounts.middleware import UserTimezoneMiddleware as _UserTimezone

from .requestid import reset_request_id, set_request_id

API_PREFIX = "/api/"


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

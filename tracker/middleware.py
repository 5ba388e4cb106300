"""The browser-only middleware, skipped for the JSON API.

Every request under `/api/` authenticates with a token in the Authorization header (or, for
intake webhooks, the `token` query parameter); none reads the session, the signed-in user,
their time zone or flash messages. Loading those for every API request cost about a tenth
of the Python time of an intake event, so on API paths these subclasses pass the request
straight on: no session is loaded or saved (no `Vary: Cookie`), `request.user` is anonymous
until the API's token authentication sets it, and dates use UTC. Pages are unchanged; the
security headers (SecurityMiddleware, X-Frame-Options, CSP) and CSRF stay on every path.
"""

from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware as _Messages
from django.contrib.sessions.middleware import SessionMiddleware as _Sessions
from django.utils import timezone

from accounts.middleware import UserTimezoneMiddleware as _UserTimezone

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

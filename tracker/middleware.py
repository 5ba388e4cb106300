from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string


class DatabaseUnavailableMiddleware:
    """Answer a clear 503 page, never a traceback, while the database is unreachable."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError | InterfaceError):
            response = HttpResponse(render_to_string("503.html"), status=503)
            response["Retry-After"] = "30"
            return response
        return None

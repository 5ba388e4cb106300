"""One error shape for the whole API: `{"error": code, "detail": message, "field": name}`."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from .parser import JsonBodyError, loads_strict


class ErrorOut(Schema):
    error: str
    detail: str
    field: str = ""


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.headers = headers or {}


def _respond(
    api: NinjaAPI,
    request: HttpRequest,
    status: int,
    code: str,
    detail: str,
    field: str = "",
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    response = api.create_response(
        request, {"error": code, "detail": detail, "field": field}, status=status
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _is_json_object(body: bytes) -> bool:
    try:
        return isinstance(loads_strict(body), dict)
    except (ValueError, RecursionError):
        return False


_errors = logging.getLogger("django.request")


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(Exception)
    def server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        """Anything unexpected: logged once, with its traceback and the request id, and
        answered as JSON with that id (never a traceback in the response)."""
        request_id = getattr(request, "request_id", "")
        if isinstance(exc, OperationalError | InterfaceError):
            # The database is away: as the pages' 503, a retry later will do.
            return _respond(
                api,
                request,
                503,
                "unavailable",
                "The database is not reachable right now; retry in a moment.",
                headers={"Retry-After": "30"},
            )
        _errors.error(
            "Internal Server Error: %s",
            request.path,
            exc_info=(type(exc), exc, exc.__traceback__),
            extra={"status_code": 500, "request": request},
        )
        response = api.create_response(
            request,
            {
                "error": "server_error",
                "detail": "Something went wrong on our side; the error was logged. "
                f"Quote request id {request_id} when you report it.",
                "field": "",
                "request_id": request_id,
            },
            status=500,
        )
        response._has_been_logged = True  # type: ignore[attr-defined]  # Django would log the 500 a second time
        return response

    @api.exception_handler(ApiError)
    def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return _respond(api, request, exc.status, exc.code, exc.detail, exc.field, exc.headers)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return _respond(
            api,
            request,
            401,
            "unauthorized",
            "Missing, unknown or revoked token: send `Authorization: Bearer <token>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return _respond(api, request, 404, "not_found", str(exc) or "Not found.")

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        if request.method in ("POST", "PUT", "PATCH") and not _is_json_object(request.body):
            return _respond(api, request, 400, "invalid_body", "The body must be a JSON object.")
        first = exc.errors[0] if exc.errors else {}
        loc = [str(p) for p in first.get("loc", [])]
        # ("body", "payload", <field>) / ("query", <field>): keep the field's own name (which
        # may itself be "body", e.g. a comment's).
        if loc and loc[0] in ("body", "query", "path"):
            loc = loc[1:]
        if len(loc) > 1 and loc[0] in ("payload", "filters"):
            loc = loc[1:]
        field = ".".join(loc)
        if first.get("type") == "missing":
            detail = f"“{field}” is required."
            code = "missing_field"
        else:
            detail = f"“{field}”: {first.get('msg', 'invalid value')}."
            code = "invalid_field"
        return _respond(api, request, 400, code, detail, field)

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        cause = exc.__cause__
        if isinstance(cause, JsonBodyError):  # raised by the parser (api.parser)
            return _respond(api, request, cause.status, cause.code, cause.detail)
        code = "malformed_json" if exc.status_code == 400 else "error"
        return _respond(api, request, exc.status_code, code, str(exc))

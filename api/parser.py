"""Reading JSON bodies, one way for every JSON endpoint (ninja's parser and intake alike):

- the `Content-Type` must be JSON (`application/json` or `application/…+json`), else 415;
- only JSON: `NaN`, `Infinity` and numbers that overflow a double are refused when parsing
  (Python's `json` accepts them; PostgreSQL's jsonb and every other JSON reader do not);
- made safe to store: PostgreSQL refuses NUL characters and lone surrogates (in text and
  jsonb), so they are dropped/replaced before anything sees the data.
"""

import json
import math
from typing import Any

from django.http import HttpRequest
from ninja.parser import Parser


class JsonBodyError(Exception):
    """A body that is not acceptable JSON: `status` 415 (not JSON at all) or 400."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def is_json_content_type(content_type: str) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def loads_strict(body: bytes | str) -> Any:
    """json.loads that accepts JSON only: no NaN/Infinity, no number beyond a double."""
    return json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)


def _clean_str(value: str) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def clean_json(data: Any) -> Any:
    if isinstance(data, str):
        return _clean_str(data)
    if isinstance(data, list):
        return [clean_json(item) for item in data]
    if isinstance(data, dict):
        return {_clean_str(str(k)): clean_json(v) for k, v in data.items()}
    return data


def read_json_body(request: HttpRequest) -> Any:
    """The request's JSON body, decoded and cleaned; JsonBodyError when it is not JSON."""
    if not is_json_content_type(request.META.get("CONTENT_TYPE", "")):
        raise JsonBodyError(
            415,
            "unsupported_media_type",
            "Send the body as JSON with the header “Content-Type: application/json”.",
        )
    try:
        return clean_json(loads_strict(request.body))
    except (ValueError, RecursionError) as exc:
        detail = "The body is not valid JSON."
        if "JSON number" in str(exc) or "out of range" in str(exc):
            detail = f"The body is not valid JSON: {exc}."
        raise JsonBodyError(400, "malformed_json", detail) from None


class SafeJsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        # ninja turns any exception here into HttpError(400) with this one as its cause; the
        # API's HttpError handler answers with the cause's status, code and message.
        return read_json_body(request)

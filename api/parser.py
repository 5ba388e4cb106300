"""JSON bodies made safe to store: PostgreSQL refuses NUL characters and lone surrogates
(in text and jsonb), so they are dropped/replaced before anything sees the data."""

import json
from typing import Any

from ninja.parser import Parser


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


class SafeJsonParser(Parser):
    def parse_body(self, request):
        return clean_json(json.loads(request.body))

"""A WSGI entry point that profiles served requests with pyinstrument (benchmarks only).

`manage.py bench_served --profile` starts gunicorn with `tracker.profiling:application`
instead of `tracker.wsgi:application`. Every request is profiled; requests are grouped by
path shape (digits and issue keys blanked) and after RESOLVE_PROFILE_REQUESTS requests of one
shape the accumulated profile is written as text to RESOLVE_PROFILE_DIR/<shape>.txt. Never
used in production: pyinstrument samples every millisecond.
"""

import os
import re
import threading
from pathlib import Path

from pyinstrument import Profiler

from tracker.wsgi import application as _django

_DIR = Path(os.environ.get("RESOLVE_PROFILE_DIR", "var/bench/profiles"))
_EVERY = int(os.environ.get("RESOLVE_PROFILE_REQUESTS", "30"))
_SHAPE = re.compile(r"[A-Z][A-Z0-9]{1,9}-\d+|\d+")
_lock = threading.Lock()
_profiles: dict[str, tuple[Profiler, list[int]]] = {}


def _shape(environ) -> str:
    path = _SHAPE.sub("N", environ.get("PATH_INFO", "/"))
    query = "q" if "q=" in environ.get("QUERY_STRING", "") else ""
    name = f"{environ.get('REQUEST_METHOD', 'GET')}{path}{'_' + query if query else ''}"
    return re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")


def application(environ, start_response):
    shape = _shape(environ)
    with _lock:
        profiler, count = _profiles.setdefault(
            shape, (Profiler(interval=0.0005, async_mode="disabled"), [0])
        )
    profiler.start()
    try:
        response = _django(environ, start_response)
        body = b"".join(response)
        if hasattr(response, "close"):
            response.close()
    finally:
        profiler.stop()
    count[0] += 1
    if count[0] == _EVERY:
        _DIR.mkdir(parents=True, exist_ok=True)
        text = profiler.output_text(unicode=False, color=False, show_all=False)
        (_DIR / f"{shape}.txt").write_text(text)
    return [body]

"""Demo data for errors from Sentry SDKs: a DSN on WEB and one error with a stack trace,
sent through the same accept and processing services as a real SDK's."""

import uuid

from accounts.models import User
from projects.models import Project

from .sdk import accept_sdk_events, create_dsn_key, process_sdk_events
from .services import get_intake_settings


def _demo_event() -> dict:
    return {
        "event_id": uuid.uuid4().hex,
        "platform": "python",
        "level": "error",
        "release": "shop@1.4.2",
        "environment": "production",
        "sdk": {"name": "sentry.python", "version": "2.40.0"},
        "user": {"id": "1042"},
        "request": {
            "url": "https://shop.example.com/checkout/pay",
            "method": "POST",
            "headers": {"User-Agent": "Mozilla/5.0", "Accept": "text/html"},
        },
        "tags": {"server": "web-2", "component": "checkout"},
        "breadcrumbs": {
            "values": [
                {"timestamp": "2026-12-01T10:00:01Z", "category": "http", "message": "GET /cart"},
                {
                    "timestamp": "2026-12-01T10:00:04Z",
                    "category": "query",
                    "message": "SELECT … FROM cart_item",
                },
            ]
        },
        "exception": {
            "values": [
                {
                    "type": "KeyError",
                    "value": "'total'",
                    "module": "builtins",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "django/core/handlers/base.py",
                                "function": "_get_response",
                                "lineno": 197,
                                "context_line": "    response = wrapped_callback(request, *args, **kwargs)",
                                "in_app": False,
                            },
                            {
                                "filename": "shop/views.py",
                                "function": "pay",
                                "lineno": 41,
                                "pre_context": [
                                    "def pay(request):",
                                    "    cart = load_cart(request)",
                                ],
                                "context_line": "    amount = checkout(cart)",
                                "post_context": ["    return redirect('done')"],
                                "in_app": True,
                                "vars": {"cart": "{'items': 3}"},
                            },
                            {
                                "filename": "shop/cart.py",
                                "function": "checkout",
                                "lineno": 12,
                                "pre_context": ["def checkout(cart):"],
                                "context_line": "    return cart['total'] * 2",
                                "in_app": True,
                                "vars": {"cart": "{'items': 3}"},
                            },
                        ]
                    },
                }
            ]
        },
    }


def seed_sdk_demo(project: Project, *, actor: User) -> None:
    """Idempotent: only when the project has no DSN yet."""
    if project.dsn_keys.exists():
        return
    key = create_dsn_key(project, name="Shop backend (demo)", actor=actor)
    cfg = get_intake_settings(project)
    accept_sdk_events(
        key, events=[(e["event_id"], e) for e in [_demo_event()]], intake_settings=cfg
    )
    process_sdk_events()

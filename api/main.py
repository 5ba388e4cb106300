"""The Resolve JSON API (`/api/v1/`), described at `/api/v1/openapi.json`.

Routers: `intake.api` (events from monitoring tools, intake tokens) and `api.issues`
(people's scripts with personal tokens: list with the list page's filters, read, file, comment,
transition; the UI's access rules), `api.links` (an issue's links, other projects' issues
hidden) and `api.shape` (a project's components and versions; an issue's component, affected
and fix version). New endpoints are added as functions on these routers.
"""

from typing import Any

from ninja import NinjaAPI

from intake.api import DOCUMENTED_SCHEMAS
from intake.api import router as intake_router
from webhooks.api import router as webhooks_router
from webhooks.payloads import ENVELOPES

from .errors import install_error_handlers
from .issues import router as issues_router
from .links import router as links_router
from .parser import SafeJsonParser
from .playbooks import checklist_router, templates_router
from .shape import router as shape_router


class ResolveAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, model in DOCUMENTED_SCHEMAS.items():
            doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for sub_name, sub in doc.pop("$defs", {}).items():
                components.setdefault(sub_name, sub)
            components[name] = doc
        schema["webhooks"] = _webhooks_doc(components)
        return schema


def _webhooks_doc(components: dict) -> dict:
    """OpenAPI 3.1 `webhooks`: what Resolve POSTs to a subscription, one entry per type."""
    doc = {}
    for type_, model in ENVELOPES.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for sub_name, sub in schema.pop("$defs", {}).items():
            components.setdefault(sub_name, sub)
        components[model.__name__] = schema
        doc[type_] = {
            "post": {
                "summary": f"`{type_}` delivered to a subscription",
                "description": (
                    "Signed per Standard Webhooks: headers `webhook-id` (the same on every "
                    "retry: dedupe on it), `webhook-timestamp`, `webhook-signature` "
                    "(`v1,<base64 HMAC-SHA256>`, two during a secret rotation) and "
                    "`Resolve-Webhook-Version` (the payload version, 1). Answer 2xx within 5 s; "
                    "408, 429 (Retry-After honoured), 5xx and timeouts are retried for 24 h, "
                    "any other answer fails the delivery. Chat-format subscriptions get a "
                    "Slack-compatible `{text, blocks}` body instead."
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}
                        }
                    },
                },
                "responses": {"2XX": {"description": "Received"}},
            }
        }
    return doc


api = ResolveAPI(
    title="Resolve API",
    version="1",
    description=(
        "Events from monitoring tools (intake tokens, per project) and issues for people's "
        "scripts (personal API tokens, the same access as the web pages). Every error is JSON: "
        '`{"error": code, "detail": message, "field": name}`.'
    ),
    urls_namespace="api",
    docs_url=None,
    parser=SafeJsonParser(),
)
install_error_handlers(api)
api.add_router("/projects/", intake_router)
api.add_router("/projects/", webhooks_router)
api.add_router("/issues", issues_router)
api.add_router("/issues", links_router)
api.add_router("/projects/", shape_router)
api.add_router("/projects/", templates_router)
api.add_router("/issues", checklist_router)

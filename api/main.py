"""The Resolve JSON API (`/api/v1/`), described at `/api/v1/openapi.json`.

Routers: `intake.api` (events from monitoring tools, intake tokens) and `api.issues`
(people's scripts with personal tokens: list with the list page's filters, read, file, comment,
transition; the UI's access rules) and `api.links` (an issue's links, other projects' issues
hidden). New endpoints are added as functions on these routers.
"""

from ninja import NinjaAPI

from intake.api import DOCUMENTED_SCHEMAS
from intake.api import router as intake_router

from .errors import install_error_handlers
from .issues import router as issues_router
from .links import router as links_router
from .parser import SafeJsonParser


class ResolveAPI(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, model in DOCUMENTED_SCHEMAS.items():
            doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for sub_name, sub in doc.pop("$defs", {}).items():
                components.setdefault(sub_name, sub)
            components[name] = doc
        return schema


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
api.add_router("/issues", issues_router)
api.add_router("/issues", links_router)

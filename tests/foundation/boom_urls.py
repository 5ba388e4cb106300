"""The real URLs plus one page and one API endpoint that fail, for the error-visibility tests
(the API uses the real error handlers, api.errors.install_error_handlers)."""

from django.urls import path
from ninja import NinjaAPI

from api.errors import install_error_handlers
from tracker.urls import urlpatterns as real

boom_api = NinjaAPI(urls_namespace="boom-api", docs_url=None)
install_error_handlers(boom_api)


class Boom(Exception):
    pass


@boom_api.get("/explode")
def explode(request):
    raise Boom("the API blew up")


def page_boom(request):
    raise Boom("the page blew up")


urlpatterns = [
    path("boom/", page_boom),
    path("api/v1/boom/", boom_api.urls),
    *real,
]
handler500 = "tracker.views.server_error"

"""What several issue pages share: where to go back to, and the status of a refused form."""

from django.conf import settings
from django.http import (
    HttpRequest,
)
from django.utils.http import url_has_allowed_host_and_scheme


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


def _refused_status(request: HttpRequest) -> int:
    """413 Content Too Large when a refused form carried an over-limit file (its message is
    next to the field), else 400."""
    too_large = any(
        upload.size > settings.ATTACHMENT_MAX_BYTES
        for name in request.FILES
        for upload in request.FILES.getlist(name)
    )
    return 413 if too_large else 400


# Served inline-safe types keep their type; anything else (HTML, SVG, scripts) is a byte stream.

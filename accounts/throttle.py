"""Brute-force protection for login and password reset, per client IP and per account.

django-ratelimit counts attempts in the shared cache (Redis when REDIS_URL is set), so the
limit holds across gunicorn workers; other clients and accounts are unaffected.
"""

import logging

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited

logger = logging.getLogger(__name__)


def attempts_exceeded(request: HttpRequest, *, group: str, account_field: str) -> bool:
    """Count this POST against the IP and the account named in the form; True when over.

    When the cache (Redis) is unreachable, people can still log in: the limit fails open and the
    outage is logged, rather than locking everybody out with an error page.
    """
    try:
        return _count(request, group=group, account_field=account_field)
    except Exception:
        logger.warning(
            "Login throttle unavailable (cache unreachable); not limiting", exc_info=True
        )
        return False


def _count(request: HttpRequest, *, group: str, account_field: str) -> bool:
    rate = settings.AUTH_ATTEMPTS_RATE
    by_ip = is_ratelimited(request, group=f"{group}:ip", key="ip", rate=rate, increment=True)
    account = request.POST.get(account_field, "").strip().lower()
    by_account = bool(account) and is_ratelimited(
        request,
        group=f"{group}:account",
        key=lambda _group, _request: account,
        rate=rate,
        increment=True,
    )
    return by_ip or by_account


def reauth_attempts_exceeded(request: HttpRequest) -> bool:
    """The same limit for re-entering the current password on a signed-in page (profile, API
    tokens), per account: a stolen session cannot guess the password it does not know. Only
    POSTs that carry a password count."""
    if not request.POST.get("current_password"):
        return False
    try:
        return is_ratelimited(
            request,
            group="reauth:account",
            key=lambda _group, _request: str(request.user.pk),
            rate=settings.AUTH_ATTEMPTS_RATE,
            increment=True,
        )
    except Exception:
        logger.warning("Re-authentication throttle unavailable; not limiting", exc_info=True)
        return False

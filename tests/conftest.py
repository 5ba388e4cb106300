"""Fixtures shared by every test: personas, projects, and access to the real services.

Tests that need PostgreSQL, Redis or Chromium carry a marker. When the service is
missing they are skipped with the reason, except under CI=true, where a missing
service fails the test: CI must exercise the real components.
"""

import fcntl
import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings

from projects.models import Role

from .factories import MembershipFactory, ProjectFactory, TeamFactory, UserFactory

CHROMIUM = "/usr/bin/chromium"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def _missing(marker: str) -> str | None:
    """Why a service a marker needs is unavailable, or None when it is there."""
    if marker == "postgres" and not settings.IS_POSTGRES:
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if marker == "redis":
        url = os.environ.get("REDIS_URL", "")
        if not url:
            return "needs Redis: set REDIS_URL=redis://..."
        if not _reachable(url, 6379):
            return f"Redis at {url} is not answering"
    if marker == "browser" and not shutil.which(CHROMIUM):
        return f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    if marker == "imap" and not shutil.which("/usr/sbin/dovecot"):
        return "needs Dovecot at /usr/sbin/dovecot (apt-get install dovecot-imapd)"
    return None


def pytest_runtest_setup(item):
    for marker in ("postgres", "redis", "browser", "imap"):
        if item.get_closest_marker(marker) is None:
            continue
        reason = _missing(marker)
        if reason is None:
            continue
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must not skip: {reason}")
        pytest.skip(reason)


# `make mutmut` runs pytest once per mutant (each run a process of its own, forked by mutmut's
# fork server): each process takes a free slot and keeps that slot's test database between
# runs (--reuse-db), so concurrent runs never share one database.
MUTMUT_SLOTS = 8
# The database names before any test database replaced them: pytest-django leaves a kept test
# database's name in settings after a session, so a second session in the same process (or a
# process forked after one) would otherwise name its database test_test_…, one prefix more
# each time, until PostgreSQL's 63 characters refused it and every later mutant "was killed"
# by an error in setup.
_MUTMUT_BASE_NAMES: dict[str, str] = {}
_mutmut_held: dict[int, tuple[int, object]] = {}  # pid -> (slot, its locked file)


def _mutmut_slot() -> int:
    held = _mutmut_held.get(os.getpid())
    if held is not None:
        return held[0]
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    for slot in range(MUTMUT_SLOTS):
        handle = (settings.VAR_DIR / f"mutmut-slot-{slot}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _mutmut_held[os.getpid()] = (slot, handle)  # held until the process ends
        return slot
    raise RuntimeError("every mutmut database slot is taken")


# Under `make mutmut` a run that fails for a reason of its environment (the test database
# unreachable or misnamed) is no kill: its exit status is 35, which mutmut reports as
# "suspicious", and only a test that fails on the mutated code counts as killing it.
MUTMUT_ENVIRONMENT_FAILED = 35
_environment_failures: list[str] = []


def _is_environment_error(excinfo) -> bool:
    from django.core.exceptions import ImproperlyConfigured
    from django.db import InterfaceError, OperationalError

    return excinfo is not None and excinfo.errisinstance(
        (ImproperlyConfigured, InterfaceError, OperationalError)
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Under `make mutmut` each run has a temporary folder of its own: pytest's shared
    numbered folders are pruned by the runs that follow, under a run still using its own."""
    if os.environ.get("RESOLVE_MUTMUT") == "1":
        _environment_failures.clear()
        for alias, db in settings.DATABASES.items():
            _MUTMUT_BASE_NAMES.setdefault(alias, db["NAME"])
        if not config.option.basetemp:
            runs = Path(settings.VAR_DIR) / "mutmut-tmp"
            runs.mkdir(parents=True, exist_ok=True)
            config.option.basetemp = str(runs / str(os.getpid()))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if os.environ.get("RESOLVE_MUTMUT") == "1" and outcome.get_result().failed:
        if _is_environment_error(call.excinfo):
            _environment_failures.append(f"{item.nodeid}: {call.excinfo.exconly()}")


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("RESOLVE_MUTMUT") == "1" and _environment_failures and exitstatus == 1:
        session.exitstatus = MUTMUT_ENVIRONMENT_FAILED


def pytest_unconfigure(config):
    if os.environ.get("RESOLVE_MUTMUT") == "1" and config.option.basetemp:
        shutil.rmtree(config.option.basetemp, ignore_errors=True)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    if os.environ.get("RESOLVE_MUTMUT") != "1":
        return
    slot = _mutmut_slot()
    for alias, db in settings.DATABASES.items():
        base = _MUTMUT_BASE_NAMES.setdefault(alias, db["NAME"])
        db.setdefault("TEST", {})["NAME"] = f"test_{base}_mutmut{slot}"


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    """Each test starts with empty rate-limit counters, in a per-process memory cache."""
    from django.core.cache import cache

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "intake": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "intake",
        },
    }
    # A fast hasher: the tests are not about PBKDF2's cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    from django.core.cache import caches

    caches["intake"].clear()


@pytest.fixture(autouse=True)
def _test_storage(settings, tmp_path):
    """Uploads go to a temporary folder; static files are found without collectstatic."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Personas are created in most tests; the default hasher would dominate the suite's time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def project(db):
    return ProjectFactory(key="WEB", name="Web shop")


@pytest.fixture
def other_project(db):
    return ProjectFactory(key="OPS", name="Operations")


@pytest.fixture
def team(db, manager, developer):
    t = TeamFactory(name="Core", lead=manager)
    t.members.add(manager, developer)
    return t


def _member(project, username, role):
    user = UserFactory(username=username)
    MembershipFactory(project=project, user=user, role=role)
    return user


@pytest.fixture
def manager(project):
    return _member(project, "manager", Role.MANAGER)


@pytest.fixture
def developer(project):
    return _member(project, "developer", Role.DEVELOPER)


@pytest.fixture
def tester(project):
    return _member(project, "tester", Role.TESTER)


@pytest.fixture
def reporter(project):
    return _member(project, "reporter", Role.REPORTER)


@pytest.fixture
def outsider(other_project):
    """A member of another project only."""
    return _member(other_project, "outsider", Role.MANAGER)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def browser(monkeypatch):
    """Headless Debian Chromium driven by Playwright (never `playwright install`)."""
    # Playwright's sync API runs an event loop in this thread; live_server's ORM calls need
    # this for the test's duration only (monkeypatch restores the environment afterwards).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def login_in_browser(page, live_server, username, password):
    from .factories import PASSWORD

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password or PASSWORD)
    page.click("button[type=submit]")

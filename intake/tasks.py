"""Celery tasks of the intake app: they take no arguments, re-read what is pending and call
one service (idempotent: running twice does the work once)."""

from celery import shared_task

from .sdk import process_sdk_events, purge_sdk_events, release_kick


@shared_task(name="intake.tasks.process_sdk_events_task", ignore_result=True)
def process_sdk_events_task() -> int:
    """Group the SDK events stored since the last run; re-queues itself while a backlog remains.

    When it runs dry it lets the next accepted event queue a task again (`release_kick`), then
    looks once more: an event stored while the one-a-second throttle held its ask back is
    found then, instead of waiting for the beat catch-up."""
    done = process_sdk_events()
    if not done:
        release_kick()
        done = process_sdk_events()
    if done:
        process_sdk_events_task.delay()
    return done


@shared_task(name="intake.tasks.purge_sdk_events_task", ignore_result=True)
def purge_sdk_events_task() -> int:
    """Retention: delete raw SDK events past each project's limits."""
    return purge_sdk_events()

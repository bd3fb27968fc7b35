"""Celery tasks of the tool requests."""

from __future__ import annotations

from coe.celery import app


@app.task(
    name="tool_requests.tasks.emit_overdue_requests_task",
    acks_late=True,
    time_limit=10 * 60,
    soft_time_limit=10 * 60 - 10,
)
def emit_overdue_requests_task() -> dict:
    """The day's ``tool_request.overdue`` events (hourly in beat; each is emitted once per
    request, step and due date, however often this runs)."""
    from tool_requests.events import emit_overdue_requests

    return {"tool_request.overdue": emit_overdue_requests()}

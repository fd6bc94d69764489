"""Per-client fairness for the Gradio queue.

Gradio's queue has a global ``max_size`` but no per-visitor cap, so one visitor
could fill it and starve everyone else. We wrap the queue's ``push`` (the single
place where a job joins the queue) and refuse a job, with a "busy" message,
when the same browser session already has ``cap`` jobs waiting or running.
Sessions rather than IP addresses: behind a share link or a Space proxy every
visitor arrives from the same address.
"""
from __future__ import annotations

from typing import Any

import gradio as gr


def busy_message(pending: int) -> str:
    return (f"Busy: you already have {pending} jobs waiting or running. "
            "Try again when one of them has finished.")


def limit_jobs_per_client(demo: gr.Blocks, cap: int) -> None:
    queue = demo._queue  # created by demo.queue(); the one door into the queue
    original_push = queue.push

    async def push(body: Any, request: Any, username: str | None) -> Any:
        key = getattr(body, "session_hash", None)
        if key:
            pending = sum(1 for event in list(queue.event_ids_to_events.values())
                          if event.session_hash == key)
            if pending >= cap:
                return False, busy_message(pending), "queue_full"
        return await original_push(body, request, username)

    queue.push = push

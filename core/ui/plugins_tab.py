"""Plugins tab: what loaded, what failed and why."""
from __future__ import annotations

import gradio as gr

from core.registry import Registry


def build(registry: Registry) -> None:
    rows = []
    for record in registry.plugins:
        provides = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in record.provides.items() if names)
        detail = record.error or record.note or ""
        rows.append([record.name, record.version, record.source, record.status, provides, detail])
    gr.Dataframe(rows, headers=["plugin", "version", "source", "status", "provides", "error / note"],
                 interactive=False, wrap=True)

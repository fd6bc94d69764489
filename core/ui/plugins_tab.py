"""Plugins tab: what loaded, what failed and why."""
from __future__ import annotations

import html

import gradio as gr

from core.registry import Registry

STATUS_ICON = {"ok": "✅", "error": "❌", "disabled": "⏸️"}


def plugins_markdown(registry: Registry) -> str:
    lines = ["| plugin | version | source | status | provides | error / note |",
             "|---|---|---|---|---|---|"]
    for record in registry.plugins:
        provides = "<br>".join(f"{kind}: {', '.join(names)}"
                               for kind, names in record.provides.items() if names) or "—"
        detail = html.escape(record.error or record.note or "").replace("\n", "<br>").replace("|", "\\|")
        lines.append(f"| **{record.name}** | {record.version} | {record.source} | "
                     f"{STATUS_ICON.get(record.status, '')} {record.status} | {provides} | {detail} |")
    if not registry.plugins:
        lines.append("| — | | | | | no plugin found |")
    return "\n".join(lines)


def build(registry: Registry) -> None:
    gr.Markdown("Every generator, engine, analyzer and edit is a plugin. Third-party plugins "
                "install with `pip` (see the README); `python -m core plugins` prints the same list.")
    gr.Markdown(plugins_markdown(registry))

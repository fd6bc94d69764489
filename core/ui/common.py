"""Small UI helpers shared by several tabs."""
from __future__ import annotations

import json
from typing import Any

import gradio as gr

IMAGE_FORMAT = "png"   # lossless: what a person downloads is what was computed


def image_input(label: str, **kwargs: Any) -> gr.Image:
    """An upload box that hands a file path to core.images (the one safe door)."""
    return gr.Image(label=label, type="filepath", format=IMAGE_FORMAT,
                    sources=["upload", "clipboard"], **kwargs)


def image_output(label: str, **kwargs: Any) -> gr.Image:
    return gr.Image(label=label, type="pil", format=IMAGE_FORMAT, interactive=False,
                    buttons=["download", "fullscreen"], **kwargs)


def parse_json_field(text: str | None, what: str) -> Any:
    from core.errors import UserError

    if text is None or not str(text).strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}") from None

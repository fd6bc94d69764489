"""Small UI helpers shared by several tabs."""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import gradio as gr

IMAGE_FORMAT = "png"   # lossless: what a person downloads is what was computed


class SafeImage(gr.Image):
    """An image upload that hands the untouched upload to ``core.images``.

    ``gr.Image`` would open the file with Pillow itself (any format, no limits)
    before our code sees it; this one passes on the file path (or the bytes of a
    pasted data URL) so that ``core.images.load_image`` stays the only door.
    """

    def get_block_name(self) -> str:
        return "image"   # the same front-end component as gr.Image

    def preprocess(self, payload: Any) -> str | bytes | None:  # type: ignore[override]
        if payload is None:
            return None
        if payload.url and payload.url.startswith("data:"):
            from gradio import processing_utils

            return base64.b64decode(processing_utils.extract_base64_data(payload.url))
        if not payload.path:
            return None
        from core.errors import UserError

        try:
            return uploaded_path(payload.path)
        except UserError as exc:     # preprocessing runs before our handlers' error wrapper
            raise gr.Error(str(exc), print_exception=False) from None


def upload_root() -> Path:
    from gradio import utils

    return Path(utils.get_upload_folder()).resolve()


def uploaded_path(path: str | Path) -> str:
    """``path`` if it is a file Gradio received (uploads and outputs live in its
    upload folder), else a clear refusal. A payload that names any other server
    path (an API call can send ``{"path": "/etc/..."}`` without Gradio's checks)
    must never reach the image loader."""
    from core.errors import UserError

    resolved = Path(path).resolve()
    if not resolved.is_relative_to(upload_root()):
        raise UserError("images must be uploaded with the request; server paths are not accepted")
    return str(resolved)


def image_input(label: str, **kwargs: Any) -> SafeImage:
    """An upload box for a user image (checked by core.images when used)."""
    kwargs.setdefault("sources", ["upload", "clipboard"])
    return SafeImage(label=label, type="filepath", format=IMAGE_FORMAT, **kwargs)


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
    except RecursionError:
        raise UserError(f"{what} is nested too deeply") from None

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


ASSETS = Path(__file__).resolve().parents[2] / "assets"
# Example pictures the tabs offer: served from where they are (Gradio's static
# paths), so the hourly cache cleanup never deletes them from under a page.
EXAMPLE_DIRS = (ASSETS / "styles" / "style_images", ASSETS / "stylize" / "examples")


def upload_root() -> Path:
    from gradio import utils

    return Path(utils.get_upload_folder()).resolve()


def uploaded_path(path: str | Path, what: str = "images") -> str:
    """``path`` if it is a file Gradio received (uploads and outputs live in its
    upload folder) or a shipped example, else a clear refusal. Any event, shown or
    not, can be called over HTTP with ``{"path": "/etc/..."}`` and no Gradio checks:
    such a path must never reach a loader."""
    from core.errors import UserError

    resolved = Path(path).resolve()
    if not any(resolved.is_relative_to(root) for root in (upload_root(), *EXAMPLE_DIRS)):
        raise UserError(f"{what} must be uploaded with the request; server paths are not accepted")
    return str(resolved)


def uploaded_files(files: Any, what: str = "files") -> list[str]:
    """The checked paths of a ``gr.File``/``gr.UploadButton`` value (one or a list)."""
    if not files:
        return []
    files = files if isinstance(files, list) else [files]
    return [uploaded_path(getattr(f, "name", f), what) for f in files]


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

"""The hand-offs that make four tabs one studio: a Generate result goes to
Analyze, Transfer or Stylize (or becomes the style) without a download and
re-upload, and a palette found in Analyze becomes the style in Generate.

Each tab's ``build`` returns a small handle (its inputs and buttons); this
module only connects them, so each tab stays testable on its own.
"""
from __future__ import annotations

from typing import Any, Mapping

import gradio as gr

from core.errors import UserError
from core.ui.analyze_tab import AnalyzeTab
from core.ui.controls import user_errors
from core.ui.generate_tab import GenerateTab
from core.ui.stylize_tab import StylizeTab
from core.ui.transfer_tab import TransferTab

TAB_IDS = ("generate", "analyze", "transfer", "stylize", "plugins")
PRIVATE: dict[str, Any] = dict(api_visibility="private", queue=False)


def _picked(selected: Mapping[str, Any] | None) -> str:
    if not selected:
        raise UserError("pick a result first: generate, then click a picture")
    return str(selected["path"])


def _missing(tab: str) -> None:
    raise UserError(f"the {tab.title()} tab has no plugin installed (see the Plugins tab)")


def connect(tabs: gr.Tabs, generate: GenerateTab | None, analyze: AnalyzeTab | None,
            transfer: TransferTab | None, stylize: StylizeTab | None) -> None:
    if generate is not None:
        _connect_generate(tabs, generate, analyze, transfer, stylize)
    if analyze is not None and generate is not None:
        @user_errors
        def use_palette(chosen: str, schemes: Mapping[str, list[str]]) -> tuple[Any, ...]:
            if not schemes or chosen not in schemes:
                raise UserError("analyse a picture first: its palettes appear here")
            return "palette", ", ".join(schemes[chosen]), gr.Tabs(selected="generate")

        analyze.use_palette.click(use_palette, [analyze.scheme, analyze.schemes],
                                  [generate.style_kind, generate.palette, tabs], **PRIVATE)


def _connect_generate(tabs: gr.Tabs, generate: GenerateTab, analyze: AnalyzeTab | None,
                      transfer: TransferTab | None, stylize: StylizeTab | None) -> None:
    def send(button: gr.Button, target: gr.Image | None, tab: str) -> Any:
        if target is None:
            return button.click(user_errors(lambda: _missing(tab)), None, None, **PRIVATE)
        return button.click(user_errors(lambda s: (_picked(s), gr.Tabs(selected=tab))),
                            [generate.selected], [target, tabs], **PRIVATE)

    send(generate.send_analyze, analyze.image if analyze else None, "analyze")
    send(generate.send_transfer, transfer.content if transfer else None, "transfer")
    if stylize is not None:
        # the picture keeps its generation settings, so a PNG saved after stylizing
        # still regenerates with `python -m core generate --from-png`
        event = generate.send_stylize.click(
            user_errors(lambda s: (_picked(s), s["settings"], gr.Tabs(selected="stylize"))),
            [generate.selected], [stylize.image, stylize.lineage, tabs], **PRIVATE)
        stylize.show_picture(event)
    else:
        send(generate.send_stylize, None, "stylize")

    @user_errors
    def use_as_style(selected: Mapping[str, Any] | None) -> tuple[Any, ...]:
        path = _picked(selected)
        return ("picture", gr.update(value=path, visible=True),
                [path] if transfer is not None else gr.update())

    outputs = [generate.style_kind, generate.style_picture]
    outputs.append(transfer.styles if transfer is not None else gr.State())
    generate.use_as_style.click(use_as_style, [generate.selected], outputs, **PRIVATE)

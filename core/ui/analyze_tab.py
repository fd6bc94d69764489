"""Analyze tab: a picture in, its style described in pictures first, numbers second.

Shows the palette as swatches, the harmonious palettes built from it (each
ready to paste into the Stylize tab as a ``recolor`` recipe), a summary in
words, the histograms, a radar chart of the statistics, the nearest presets, and
the whole result as JSON to read or download. All work goes through
``core.pipeline.analyze``; figures from third-party analyzers appear in a gallery.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping

import gradio as gr

from core import pipeline
from core.errors import UserError
from core.registry import Registry
from core.ui.files import output_folder
from core.ui.common import IMAGE_FORMAT, image_input
from core.ui.controls import user_errors

KNOWN_FIGURES = ("palette", "harmonies", "histograms", "statistics", "nearest presets")


# --------------------------------------------------------------------------- pure helpers


def recolor_recipe(palette: list[str]) -> str:
    """A Stylize recipe that maps a picture onto ``palette``."""
    return json.dumps({"seed": 0, "ops": [{"op": pipeline.PALETTE_FILTER,
                                            "params": {"palette": palette}}]}, indent=1)


def summary(data: Mapping[str, Any], preset_labels: Mapping[int, str]) -> str:
    """The analysis in a few lines of words (whatever keys are present)."""
    lines = []
    stats = data.get("stats")
    if stats:
        warmth = stats["warmth"]
        feel = "warm" if warmth > 0.2 else "cool" if warmth < -0.2 else "neutral"
        lines.append(f"**Colour:** {stats['colorfulness_label']} (M = {stats['colorfulness']:.0f}), "
                     f"{feel} (warmth {warmth:+.2f}), {stats['harmony']} harmony; brightness "
                     f"{stats['brightness']:.2f}, contrast {stats['contrast']:.2f}, "
                     f"saturation {stats['saturation']:.2f}.")
    palette = data.get("palette", {}).get("colors")
    if palette:
        lines.append("**Palette:** " + ", ".join(f"`{c['hex']}` {c['share'] * 100:.0f} %" for c in palette))
    texture = data.get("texture")
    if texture:
        angles = texture["dominant_orientations"]["angles"]
        lines.append(f"**Texture:** edge density {texture['edge_density']:.2f}, fine detail "
                     f"{texture['high_frequency_energy']:.2f}, main edge directions "
                     f"{', '.join(f'{a:.0f}°' for a in angles) or 'none'}.")
    shape = data.get("shape")
    if shape:
        lines.append(f"**Shape:** {shape['regions']} colour regions, mean circularity "
                     f"{shape['mean_circularity']:.2f}, {shape['straight_edge_share'] * 100:.0f} % "
                     "of edges straight.")
    nearest = data.get("nearest_presets")
    if nearest:
        named = [f"{preset_labels.get(m['preset'], m['preset'])} ({m['score']:.3f})" for m in nearest[:3]]
        lines.append(f"**Looks most like preset** {named[0]}, then " + ", then ".join(named[1:]) + ".")
    return "\n\n".join(lines)


def save_json(data: Mapping[str, Any]) -> str:
    """The analysis as a .json file for the download button (named by its content)."""
    text = json.dumps(data, indent=1)
    path = output_folder("analyses") / f"analysis-{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return str(path)


def _preset_labels(registry: Registry) -> dict[int, str]:
    if not registry.style_transfers:
        return {}
    engine = registry.style_transfers[pipeline.default_engine(registry)]
    return {p.index: p.label for p in engine.presets}


# --------------------------------------------------------------------------- the tab


@dataclass
class AnalyzeTab:
    image: gr.Image
    scheme: gr.Radio
    schemes: gr.State          # {"complementary": [hex, ...], ...} of the last analysis
    use_palette: gr.Button


def build(registry: Registry) -> AnalyzeTab | None:
    if not registry.analyzers:
        gr.Markdown("No analyzer is installed. See the **Plugins** tab.")
        return None
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            image = image_input("Picture to analyse")
            run = gr.Button("Analyze", variant="primary")
            words = gr.Markdown()
            nearest = _figure("Nearest presets")
        with gr.Column(scale=3):
            palette = _figure("Palette (share of the picture)")
            harmonies = _figure("Harmonious palettes")
            with gr.Row():
                scheme = gr.Radio(["complementary", "analogous", "triadic"], value="complementary",
                                  label="Recolour recipe for the Stylize tab", scale=1)
                recipe = gr.Code(label="recolor recipe (copy into the Stylize tab)", language="json",
                                 scale=2, interactive=False)
            use_palette = gr.Button("Use this palette as the style in Generate", size="sm")
            with gr.Row():
                histograms = _figure("Histograms")
                radar = _figure("Statistics")
            more = gr.Gallery(label="More figures", columns=2, height="auto", visible=False,
                              format=IMAGE_FORMAT)
            with gr.Accordion("All figures as JSON", open=False):
                data = gr.JSON(label="Analysis")
            download = gr.DownloadButton("⬇ Download JSON", visible=False)
    state = gr.State({})

    @user_errors
    def on_analyze(path: Any, chosen: str) -> tuple[Any, ...]:
        if not path:
            raise UserError("upload a picture to analyse")
        result = pipeline.analyze(path, registry=registry)
        figs = result.figures
        extra = [(im, name) for name, im in figs.items() if name not in KNOWN_FIGURES]
        schemes = result.data.get("palette", {}).get("harmonies", {})
        return (summary(result.data, _preset_labels(registry)), figs.get("nearest presets"),
                figs.get("palette"), figs.get("harmonies"),
                recolor_recipe(schemes[chosen]) if chosen in schemes else "",
                figs.get("histograms"), figs.get("statistics"),
                gr.update(value=extra, visible=bool(extra)), result.data,
                gr.update(value=save_json(result.data), visible=True), schemes)

    run.click(on_analyze, [image, scheme],
              [words, nearest, palette, harmonies, recipe, histograms, radar, more, data, download,
               state], api_visibility="private", concurrency_id="models")
    scheme.change(lambda chosen, schemes: recolor_recipe(schemes[chosen]) if chosen in schemes else "",
                  [scheme, state], [recipe], api_visibility="private")
    return AnalyzeTab(image, scheme, state, use_palette)


def _figure(label: str) -> gr.Image:
    return gr.Image(label=label, type="pil", format=IMAGE_FORMAT, interactive=False,
                    buttons=["download", "fullscreen"])

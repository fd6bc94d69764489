"""The ``magenta`` style-transfer engine: any picture or preset blend as the style.

Every style becomes one 100-number vector in the space of Magenta's
style-prediction network, and one transformer paints with it:

- a style image -> the prediction network's vector of it;
- a preset -> its shipped vector (the 26-style network's look, distilled; see
  ``core.onnx_models`` and ``build_assets.py``);
- a blend -> the weighted mean of its items' vectors (weights sum to 1);
- strength s -> ``(1 - s) * content's own vector + s * blend``: at 0 the content is
  painted in its own style (close to the photo), at 1 fully in the target style.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from core import onnx_models
from core.errors import UserError
from core.hookspecs import ProgressFn, StyleBlend, TransferRequest
from core.params import Param

from plugins.style_transfer import painting
from plugins.style_transfer.presets import PRESETS


class MagentaEngine:
    name = "magenta"
    label = "Magenta arbitrary style (26 presets or any picture)"
    params = (
        Param("stroke_scale", "float", 1.0, label="Stroke size", min=1.0, max=4.0, step=0.25,
              help="1 paints at the output's full resolution (finest strokes); "
                   "2 paints at half resolution and enlarges (strokes twice as big)."),
    )
    presets = PRESETS

    def transfer(self, request: TransferRequest, progress: ProgressFn) -> Image.Image:
        content = request.content.convert("RGB")
        size = painting.output_size(content.size, request.max_size)
        if size != content.size:
            content = content.resize(size, Image.Resampling.LANCZOS)
        progress(0.05, "reading the style")
        target = blend_vector(request.style)
        if request.strength < 1.0:
            own = onnx_models.style_vector(content)
            target = (1.0 - request.strength) * own + request.strength * target
        work = painting.work_size(size, float(request.params.get("stroke_scale", 1.0)))
        progress(0.2, f"painting at {work[0]}×{work[1]} px")
        source = content if work == size else content.resize(work, Image.Resampling.LANCZOS)
        result = painting.paint(source, target)
        if result.size != size:
            result = result.resize(size, Image.Resampling.LANCZOS)
        if request.preserve_color:
            result = painting.keep_colors(result, content)
        progress(1.0, "done")
        return result


def blend_vector(style: StyleBlend) -> np.ndarray:
    """The weighted mean of the blend's preset and style-image vectors."""
    if not style.presets and not style.images:
        raise UserError("choose a style: a preset or a style image")
    presets = onnx_models.preset_vectors()
    total = np.zeros(onnx_models.STYLE_VECTOR_SIZE, dtype=np.float32)
    weight_sum = 0.0
    for index, weight in style.presets:
        if not 0 <= index < len(presets):
            raise UserError(f"preset {index} does not exist; presets are 0–{len(presets) - 1}")
        total += weight * presets[index]
        weight_sum += weight
    for image, weight in style.images:
        total += weight * onnx_models.style_vector(image)
        weight_sum += weight
    if not np.isfinite(weight_sum) or weight_sum <= 0:
        raise UserError("style weights must be positive numbers")
    # core normalises weights to 1; dividing again keeps a hand-built blend honest
    return total / weight_sum

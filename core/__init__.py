"""Impasto core: hookspecs, plugin loading, device, model cache, images, pipeline, CLI.

Importing ``core`` is cheap: it loads no model, imports no torch and touches no
network. Those happen when a job needs them.
"""

__version__ = "0.1.0"

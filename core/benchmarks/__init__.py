"""Benchmarks run by ``python -m core bench``.

Each module here defines functions named ``bench_*`` that take no arguments and
return a list of dicts, one per measured job (at least ``job`` and the figures,
e.g. ``median_s``, ``runs``, ``ratio``). They measure; they do not assert.
"""

"""Where the app writes the files it hands to visitors, and how they go away.

Everything lives under one folder, ``<tempdir>/impasto/<kind>/``, and any file
older than ``limits.CACHE_TTL_S`` is deleted, checked at most once a minute
when a new file is written. Gradio's ``delete_cache`` does the same for its own
copies, so a day of traffic cannot fill the disk. These folders are not served
directly: Gradio serves a file only after a job returns it (from its own cache).
"""
from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

from core import limits

PRUNE_EVERY_S = 60.0
_lock = threading.Lock()
_last_prune = 0.0


def root() -> Path:
    """``$IMPASTO_OUTPUT_DIR`` or ``<tempdir>/impasto``: kept apart from Gradio's
    upload folder, the only place image arguments may come from."""
    return Path(os.environ.get("IMPASTO_OUTPUT_DIR") or Path(tempfile.gettempdir()) / "impasto")


def output_folder(kind: str, session: str | None = None) -> Path:
    """A folder for one kind of output (``results``, ``recipes`` ...), per browser
    session when ``session`` is given; old files are pruned on the way."""
    folder = root() / kind
    if session is not None:
        folder = folder / ("".join(c for c in session if c.isalnum())[:40] or "anonymous")
    prune()          # first: pruning removes empty folders, this one included
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def prune(max_age_s: float | None = None, force: bool = False) -> int:
    """Delete files older than ``max_age_s`` (default: the cache TTL) and the empty
    folders they leave; returns how many files went."""
    global _last_prune
    now = time.time()
    with _lock:
        if not force and now - _last_prune < PRUNE_EVERY_S:
            return 0
        _last_prune = now
    age = limits.CACHE_TTL_S if max_age_s is None else max_age_s
    removed = 0
    base = root()
    if not base.is_dir():
        return 0
    for dirpath, dirnames, filenames in os.walk(base, topdown=False):
        try:   # the folder's age before its files go (deleting them touches it)
            folder_age = now - os.stat(dirpath).st_mtime
        except OSError:
            continue
        for name in filenames:
            path = Path(dirpath) / name
            try:
                if now - path.stat().st_mtime > age:
                    path.unlink()
                    removed += 1
            except OSError:
                pass   # another worker got there first
        if Path(dirpath) != base:
            try:
                if folder_age > age:        # never a folder just made for a new file
                    os.rmdir(dirpath)       # only succeeds when empty
            except OSError:
                pass
    return removed

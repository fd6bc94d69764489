"""Plugin loading: built-ins from ``plugins/``, third parties from entry points.

Every plugin is loaded and registered on its own: one that fails to import,
raises while registering, registers an object that does not follow its protocol,
or takes a name that is already taken is recorded with its error and skipped as a
whole, and the others carry on.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import threading
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import pluggy

from core import __version__
from core.errors import UnavailableError
from core.hookspecs import KINDS, PROJECT, ImpastoSpec
from core.params import Param

PLUGINS_DIR = Path(__file__).resolve().parent.parent / "plugins"
BUILTIN_PACKAGE = "plugins"


@dataclass
class PluginRecord:
    """What ``python -m core plugins`` prints about one plugin."""

    name: str
    version: str
    source: str                      # "builtin" or "entrypoint"
    status: str = "ok"               # "ok", "error" or "disabled"
    error: str | None = None
    hooks: list[str] = field(default_factory=list)
    provides: dict[str, list[str]] = field(default_factory=dict)
    note: str | None = None          # e.g. how to configure a plugin that provides nothing yet

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "source": self.source,
                "hooks": self.hooks, "status": self.status, "error": self.error,
                "provides": self.provides, "note": self.note}


class Registry:
    """Everything the plugins provide, by kind and by name."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(ImpastoSpec)
        self.plugins: list[PluginRecord] = []
        self.generators: dict[str, Any] = {}
        self.style_transfers: dict[str, Any] = {}
        self.filters: dict[str, Any] = {}
        self.analyzers: dict[str, Any] = {}

    # ------------------------------------------------------------------ loading

    def add_plugin(self, plugin: object, name: str, version: str, source: str) -> PluginRecord:
        """Register one plugin object and run its hooks; never raises."""
        record = PluginRecord(name=name, version=version, source=source)
        self.plugins.append(record)
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except Exception as exc:  # noqa: BLE001 - a bad plugin must not stop start-up
            _unregister_quietly(self.pm, plugin)
            return _fail(record, exc)
        record.hooks = sorted(hook for hook, _ in self._hookimpls(name))
        staged: dict[str, list[Any]] = {}
        try:
            for hook, impl in self._hookimpls(name):
                kind, protocol = KINDS[hook]
                box = staged.setdefault(kind, [])
                impl.function(register=lambda obj, _k=kind, _p=protocol, _b=box:
                              _b.append(_check_object(obj, _k, _p)))
            self._check_names(staged)
        except Exception as exc:  # noqa: BLE001
            self.pm.unregister(plugin)
            return _fail(record, exc)
        for kind, objects in staged.items():
            table = getattr(self, kind)
            for obj in objects:
                table[obj.name] = obj
            record.provides[kind] = [obj.name for obj in objects]
        note = getattr(plugin, "IMPASTO_NOTE", None)
        record.note = note() if callable(note) else note
        return record

    def _hookimpls(self, plugin_name: str) -> Iterator[tuple[str, Any]]:
        """(hook name, implementation) of one plugin: hooks are called plugin by
        plugin so that one plugin's failure cannot abort another's registration."""
        for hook_name in KINDS:
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin_name == plugin_name:
                    yield hook_name, impl

    def _check_names(self, staged: dict[str, list[Any]]) -> None:
        for kind, objects in staged.items():
            taken = getattr(self, kind)
            seen: set[str] = set()
            for obj in objects:
                if obj.name in taken or obj.name in seen:
                    raise ValueError(f"duplicate {kind[:-1].replace('_', ' ')} name {obj.name!r}")
                seen.add(obj.name)

    # ------------------------------------------------------------------ lookup

    def get(self, kind: str, name: str) -> Any:
        table: dict[str, Any] = getattr(self, kind)
        if name in table:
            return table[name]
        known = ", ".join(sorted(table)) or "none installed"
        raise UnavailableError(f"unknown {kind[:-1].replace('_', ' ')} {name!r}; available: {known}")

    def to_json(self) -> list[dict[str, Any]]:
        return [record.to_json() for record in self.plugins]


def _fail(record: PluginRecord, exc: BaseException) -> PluginRecord:
    record.status = "error"
    record.error = f"{type(exc).__name__}: {exc}"
    record.provides = {}
    return record


def _unregister_quietly(pm: pluggy.PluginManager, plugin: object) -> None:
    try:
        if pm.is_registered(plugin):
            pm.unregister(plugin)
    except Exception:  # noqa: BLE001
        pass


def _check_object(obj: Any, kind: str, protocol: type) -> Any:
    """The protocol check of every registered object, with a message a plugin
    author can act on."""
    what = f"{kind[:-1].replace('_', ' ')} {getattr(obj, 'name', obj)!r}"
    if not isinstance(obj, protocol):
        members = set(protocol.__annotations__) | {
            k for k, v in vars(protocol).items() if callable(v) and not k.startswith("_")}
        missing = sorted(a for a in members if not hasattr(obj, a))
        raise TypeError(f"{what} does not follow the {protocol.__name__} protocol; missing: {', '.join(missing)}")
    if not isinstance(obj.name, str) or not obj.name.replace("-", "_").isidentifier():
        raise TypeError(f"{what}: name must be a short identifier such as 'my_filter'")
    if not isinstance(obj.label, str) or not obj.label:
        raise TypeError(f"{what}: label must be a non-empty string")
    if not all(isinstance(p, Param) for p in obj.params):
        raise TypeError(f"{what}: params must be a sequence of core.params.Param")
    return obj


# ---------------------------------------------------------------------- discovery


def _allowed() -> set[str] | None:
    raw = os.environ.get("IMPASTO_PLUGINS", "").strip()
    return {p.strip() for p in raw.split(",") if p.strip()} if raw else None


def load_registry() -> Registry:
    """Build a registry from the built-in plugins and installed entry points."""
    registry = Registry()
    allowed = _allowed()
    for info in sorted(pkgutil.iter_modules([str(PLUGINS_DIR)]), key=lambda m: m.name):
        if not info.ispkg:
            continue
        _load_one(registry, info.name, "builtin", __version__, allowed,
                  lambda n=info.name: importlib.import_module(f"{BUILTIN_PACKAGE}.{n}"))
    for ep in sorted(metadata.entry_points(group=PROJECT), key=lambda e: e.name):
        version = ep.dist.version if ep.dist is not None else "unknown"
        _load_one(registry, ep.name, "entrypoint", version, allowed, ep.load)
    return registry


def _load_one(registry: Registry, name: str, source: str, version: str,
              allowed: set[str] | None, load: Any) -> None:
    if any(record.name == name for record in registry.plugins):
        registry.plugins.append(PluginRecord(name, version, source, status="error",
                                             error=f"a plugin named {name!r} is already loaded"))
        return
    if allowed is not None and name not in allowed:
        registry.plugins.append(PluginRecord(name, version, source, status="disabled",
                                             note="not listed in IMPASTO_PLUGINS"))
        return
    try:
        plugin = load()
    except Exception as exc:  # noqa: BLE001 - a plugin that fails to import is skipped
        record = _fail(PluginRecord(name, version, source), exc)
        record.error = f"{record.error} (while importing)"
        registry.plugins.append(record)
        return
    version = getattr(plugin, "__version__", version)
    registry.add_plugin(plugin, name, str(version), source)


_registry: Registry | None = None
_registry_lock = threading.Lock()


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = load_registry()
        return _registry

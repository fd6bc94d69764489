"""Plugin loading: hooks, protocols, isolation of broken plugins, entry points,
IMPASTO_PLUGINS, and `python -m core plugins --json` with a real installed package."""
from __future__ import annotations

import json
import textwrap
import types

import pluggy
import pytest

from core.params import Param
from core.registry import Registry
from tests.conftest import ROOT, run_cli

hookimpl = pluggy.HookimplMarker("impasto")


def plugin_module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(textwrap.dedent(source), module.__dict__)
    return module


GOOD = """
import pluggy
from core.params import Param
hookimpl = pluggy.HookimplMarker("impasto")
class Blur:
    name = "{name}"
    label = "Blur"
    category = "artistic"
    params = (Param("radius", "float", 2.0, min=0, max=50),)
    def apply(self, image, params, rng):
        return image
@hookimpl
def register_filters(register):
    register(Blur())
"""


def test_hooks_register_objects_and_record_what_they_provide(hello_module):
    registry = Registry()
    record = registry.add_plugin(hello_module, "hello", "0.2.0", "entrypoint")
    assert record.status == "ok", record.error
    assert record.hooks == ["register_filters", "register_generators"]
    assert record.provides == {"filters": ["hello_invert"], "generators": ["hello_flat"]}
    assert registry.get("filters", "hello_invert").label.startswith("Invert")


def test_plugin_raising_on_register_is_recorded_and_others_still_load(hello_module):
    broken = plugin_module("broken", """
        import pluggy
        hookimpl = pluggy.HookimplMarker("impasto")
        @hookimpl
        def register_filters(register):
            raise RuntimeError("no GPU here")
    """)
    registry = Registry()
    bad = registry.add_plugin(broken, "broken", "1.0", "entrypoint")
    good = registry.add_plugin(hello_module, "hello", "0.2.0", "entrypoint")
    assert bad.status == "error" and "no GPU here" in bad.error
    assert good.status == "ok" and "hello_invert" in registry.filters


def test_duplicate_name_is_refused_for_the_second_plugin():
    registry = Registry()
    first = registry.add_plugin(plugin_module("a", GOOD.format(name="blur")), "a", "1", "builtin")
    second = registry.add_plugin(plugin_module("b", GOOD.format(name="blur")), "b", "1", "entrypoint")
    assert first.status == "ok"
    assert second.status == "error" and "duplicate" in second.error
    assert second.provides == {}


def test_object_breaking_its_protocol_is_refused_with_what_is_missing():
    registry = Registry()
    record = registry.add_plugin(plugin_module("c", """
        import pluggy
        hookimpl = pluggy.HookimplMarker("impasto")
        class Half:
            name = "half"
            label = "Half"
            params = ()
        @hookimpl
        def register_filters(register):
            register(Half())
    """), "c", "1", "entrypoint")
    assert record.status == "error"
    assert "Filter protocol" in record.error and "apply" in record.error and "category" in record.error


def test_unknown_hook_name_is_an_error():
    registry = Registry()
    record = registry.add_plugin(plugin_module("d", """
        import pluggy
        hookimpl = pluggy.HookimplMarker("impasto")
        @hookimpl
        def register_filtres(register):
            pass
    """), "d", "1", "entrypoint")
    assert record.status == "error" and "register_filtres" in record.error


def test_param_schema_rejects_bad_values():
    from core.errors import UserError
    from core.params import validate_params

    schema = (Param("angle", "float", 0.0, min=-360, max=360), Param("mode", "choice", "a", choices=("a", "b")),
              Param("n", "int", 1, min=1, max=4), Param("tint", "color", "#ffffff"))
    assert validate_params(schema, {"angle": "15", "n": 2.0, "tint": "F00"}) == \
        {"angle": 15.0, "mode": "a", "n": 2, "tint": "#ff0000"}
    for bad in ({"angle": float("nan")}, {"angle": float("inf")}, {"angle": 400}, {"n": 1.5},
                {"mode": "c"}, {"tint": "red"}, {"typo": 1}):
        with pytest.raises(UserError):
            validate_params(schema, bad)


def _write_dist(site, dist_name, module_name, source):
    """A real installed distribution: module + dist-info with an entry point."""
    (site / f"{module_name}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist_name}-1.0.dist-info"
    info.mkdir()
    info.joinpath("METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.0\n")
    info.joinpath("entry_points.txt").write_text(f"[impasto]\n{dist_name} = {module_name}\n")


def test_installed_package_appears_in_plugins_json_and_broken_ones_are_recorded(tmp_path, hello_site):
    import shutil

    site = tmp_path / "site"
    shutil.copytree(hello_site, site)
    _write_dist(site, "import_boom", "import_boom", "raise ImportError('missing dependency xyz')\n")
    _write_dist(site, "register_boom", "register_boom", """
        import pluggy
        hookimpl = pluggy.HookimplMarker("impasto")
        @hookimpl
        def register_analyzers(register):
            raise ValueError("bad config")
    """)
    env = {"PYTHONPATH": f"{site}:{ROOT}"}
    listed = run_cli("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    records = {r["name"]: r for r in json.loads(listed.stdout)}
    hello = records["hello"]
    assert hello["source"] == "entrypoint" and hello["version"] == "0.2.0" and hello["status"] == "ok"
    assert hello["provides"]["filters"] == ["hello_invert"]
    assert records["import_boom"]["status"] == "error"
    assert "missing dependency xyz" in records["import_boom"]["error"]
    assert records["register_boom"]["status"] == "error" and "bad config" in records["register_boom"]["error"]
    builtins = [r for r in records.values() if r["source"] == "builtin"]
    assert all(r["status"] == "ok" for r in builtins), builtins

    # the installed plugin's filter works from the CLI
    image = tmp_path / "in.png"
    from PIL import Image

    Image.new("RGB", (40, 40), (10, 20, 30)).save(image)
    recipe = tmp_path / "r.json"
    recipe.write_text('{"seed": 0, "ops": [{"op": "hello_invert"}]}')
    styled = run_cli("stylize", str(image), "--recipe", str(recipe), "--out", str(tmp_path / "o.png"),
                     "--json", env=env)
    assert styled.returncode == 0, styled.stderr
    assert Image.open(tmp_path / "o.png").getpixel((5, 5))[:3] == (245, 235, 225)

    # IMPASTO_PLUGINS restricts what loads
    limited = run_cli("plugins", "--json", env=dict(env, IMPASTO_PLUGINS="hello"))
    statuses = {r["name"]: r["status"] for r in json.loads(limited.stdout)}
    assert statuses["hello"] == "ok" and statuses["import_boom"] == "disabled"

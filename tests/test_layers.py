"""The layers point one way: bridge < edge < train < the application (CLI, sessions, sinks, fleet);
nothing under ``edge/`` imports TensorFlow or Keras; no module reaches itself through others.

Checked on the sources with ``ast``: every import, absolute or relative, at
module level or inside a function, is resolved to the module it reaches."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: folder -> (its package, the layers it may import besides itself)
LAYERS = {
    "bridge": ("ecg_activity.bridge", set()),
    "edge": ("ecg_activity.edge", {"bridge", "models"}),
    "train": ("ecg_activity.train", {"bridge", "edge", "models"}),
    "models": ("ecg_activity.models", set()),
}
APP = {"ecg_activity"}      # the root package's own modules: cli/, session, sinks, fleet, benchmarks
#: folder -> installed package, for every source folder (the application's is ecg_activity/ itself)
PACKAGES = {"ecg_activity": "ecg_activity", **{f: p for f, (p, _) in LAYERS.items()}}


def _imports(path: Path, package: str):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
                for n in names:
                    yield n, node.lineno
            else:
                yield node.module or "", node.lineno


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "ecg_activity":
        return None
    if len(parts) == 1:
        return "app"
    return parts[1] if parts[1] in LAYERS else "app"


@pytest.mark.parametrize("folder", sorted(LAYERS))
def test_no_layer_imports_upward(folder):
    package, allowed = LAYERS[folder]
    bad = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        rel = path.relative_to(ROOT / folder).with_suffix("")
        pkg = ".".join([package] + list(rel.parts[:-1])) if rel.name != "__init__" else \
            ".".join([package] + list(rel.parts[:-1]))
        for mod, line in _imports(path, pkg):
            layer = _layer(mod)
            if layer is not None and layer != folder and layer not in allowed:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {mod} ({layer})")
    assert not bad, "\n".join(bad)


def test_the_check_would_catch_an_upward_import(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("from ..edge.pipeline import ActivityPipeline\nimport ecg_activity.train.model\n"
                 "def f():\n    from ..cli import main\n")
    found = {(_layer(m)) for m, _ in _imports(p, "ecg_activity.bridge")}
    assert found == {"edge", "train", "app"}


def _modules() -> dict[str, Path]:
    """Every source module, by its installed dotted name."""
    out = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = list(rel.parts[:-1]) + ([] if rel.name == "__init__" else [rel.name])
            out[".".join([package] + parts)] = path
    return out


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


def _graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (``from pkg import mod`` reaches ``pkg.mod`` when it is
    one; a package's ``__init__`` is not counted as imported by its own submodules' relative imports)."""
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        deps = set()
        for mod, _ in _imports(path, _package_of(name, path)):
            while mod and mod not in mods:
                mod = mod.rsplit(".", 1)[0] if "." in mod else ""
            if mod and mod != name and not name.startswith(mod + "."):
                deps.add(mod)
        graph[name] = deps
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    """No module imports itself through others (function-level imports included): each file can be
    read, and changed, after the ones it builds on."""
    assert _circles(_graph()) == []


def test_the_circle_check_would_catch_one():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_edge_never_imports_tensorflow_or_keras():
    """The Pi's path: no file under edge/ imports TensorFlow or Keras, wherever the import stands
    (LiteRT or tflite-runtime run the models; TensorFlow is only a named fallback interpreter)."""
    bad = [f"{p.relative_to(ROOT)}:{line} imports {mod}" for p in sorted((ROOT / "edge").rglob("*.py"))
           for mod, line in _imports(p, "ecg_activity.edge") if mod.split(".")[0] in ("tensorflow", "keras")]
    assert not bad, "\n".join(bad)


def test_every_package_is_installed():
    """A folder with an ``__init__.py`` that ``pyproject.toml`` does not list would be missing from the
    wheel (its imports work in the source tree, then fail for a user)."""
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = {name for name, path in _modules().items() if path.name == "__init__.py"}
    assert found - listed == set()

"""The layers point one way: bridge < edge < train < the application (CLI, sessions, sinks, fleet).

Checked on the sources with ``ast``: every import, absolute or relative, at
module level or inside a function, is resolved to the package it reaches."""

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
APP = {"ecg_activity"}      # the root package's own modules: cli*, session, sinks, fleet, args


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

"""How the registries (protocols, datasets, commands) find what a registry line names.

A line names ``"module:Class"`` (or a command's module): a module of the registry's own package, or any
importable module, so an extension can live outside the project.  Imported only when first asked for,
so listing the names costs nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType


def registered_module(package: str, module: str) -> ModuleType:
    """``package.module`` when it exists, else ``module`` itself."""
    local = f"{package}.{module}"
    return importlib.import_module(local if importlib.util.find_spec(local) is not None else module)


def registered_object(package: str, entry: str):
    """An instance of the class a ``"module:Class"`` registry entry names."""
    module, cls = entry.split(":")
    return getattr(registered_module(package, module), cls)()

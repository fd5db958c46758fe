"""A package's names imported on first use (PEP 562), so that reaching one light submodule does not
load its heavy siblings: the sender passes through `edm.customers` and `edm.privacy`, and must not
pay for pandas and scipy (the importer's, the models') to send."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_names(package: str, modules: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: each name in `modules` from its submodule, when asked for."""

    def attribute(name: str) -> Any:
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{modules[name]}"), name)

    return attribute

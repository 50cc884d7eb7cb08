"""Check classes by id. Check modules register themselves when `load_all` imports them."""
from __future__ import annotations

import importlib

from auditor.checks.base import Check

_REGISTRY: dict[str, type[Check]] = {}
# one module per family; importing a module registers its checks
_MODULES = ("auditor.checks.representation", "auditor.checks.integrity")


def register(cls: type[Check]) -> type[Check]:
    if not cls.id:
        raise ValueError(f"{cls.__name__} has no id")
    _REGISTRY[cls.id] = cls
    return cls


def load_all() -> dict[str, type[Check]]:
    for module in _MODULES:
        importlib.import_module(module)
    return dict(_REGISTRY)


def get(check_id: str) -> type[Check]:
    checks = load_all()
    if check_id not in checks:
        raise KeyError(check_id)
    return checks[check_id]

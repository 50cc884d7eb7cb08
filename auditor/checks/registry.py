"""Check classes by id. Every module in auditor.checks registers its checks when imported."""
from __future__ import annotations

import importlib
import pkgutil

from auditor.checks.base import Check

_REGISTRY: dict[str, type[Check]] = {}
# framework modules hold no checks; every other module in the package is a check family
_FRAMEWORK = {"base", "registry", "conditions"}


def register(cls: type[Check]) -> type[Check]:
    if not cls.id:
        raise ValueError(f"{cls.__name__} has no id")
    _REGISTRY[cls.id] = cls
    return cls


def load_all() -> dict[str, type[Check]]:
    import auditor.checks as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in _FRAMEWORK and not info.name.startswith("_"):
            importlib.import_module(f"auditor.checks.{info.name}")
    return dict(_REGISTRY)


def get(check_id: str) -> type[Check]:
    checks = load_all()
    if check_id not in checks:
        raise KeyError(check_id)
    return checks[check_id]

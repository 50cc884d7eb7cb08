"""Audit templates: YAML files that name the checks, their parameters and their conditions.

The built-in templates ship in the `auditor_templates` package (the repository's templates/
folder); a user can copy one, edit it, and run it by path. Templates are validated on load and a
problem is one clear sentence naming the file and the place.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from auditor.checks import registry
from auditor.checks.conditions import Condition, parse_condition, parse_decide_on
from auditor.errors import BadInput
from auditor.safe_yaml import load_yaml
from auditor.text import fold

DEFAULT_TEMPLATE = "standard"


@dataclass(frozen=True)
class CheckSpec:
    id: str
    params: dict[str, Any] = field(default_factory=dict)
    conditions: tuple[Condition, ...] = ()
    # a required check that is skipped or fails to run makes the audit inconclusive
    required: bool = False
    # its figures must rest on probe labels: with the model's own predictions as labels they are inconclusive
    requires_labels: bool = False


@dataclass(frozen=True)
class Template:
    name: str
    version: str
    description: str
    checks: tuple[CheckSpec, ...]
    sha256: str                # of the template file's bytes
    source: str                # "builtin:standard" or the path it was read from
    text: str                  # the file as read, stored with the audit for reproducibility
    description_ja: str = ""
    # the smallest probe set this template decides on (measured: bench/min_probes.py); 0 = no minimum
    min_probes: int = 0
    # how rules with an interval decide, unless a rule says otherwise (auditor.checks.conditions)
    decide_on: str = "interval"
    # an approver may approve an audit made under this template (auditor.duties); quick is a first look, not this
    approval_grade: bool = False

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.checks if c.required)

    def describe(self, lang: str = "en") -> str:
        return self.description_ja if lang == "ja" and self.description_ja else self.description

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "description": self.description,
                "description_ja": self.description_ja,
                "checks": [c.id for c in self.checks], "required": list(self.required),
                "min_probes": self.min_probes, "decide_on": self.decide_on,
                "approval_grade": self.approval_grade, "source": self.source,
                "sha256": self.sha256}


def builtin_dir() -> Path:
    return Path(str(resources.files("auditor_templates"))) / "audits"


def list_templates() -> list[Template]:
    return [load_template(str(path)) for path in sorted(builtin_dir().glob("*.yaml"))]


def approval_grade_names() -> list[str]:
    """The built-in templates an audit can be approved under (approval_grade: true), for sentences that name them."""
    return [t.name for t in list_templates() if t.approval_grade]


def load_template(name_or_path: str | None) -> Template:
    """A built-in template by name, or a template file by path."""
    name_or_path = name_or_path or DEFAULT_TEMPLATE
    path = Path(name_or_path)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise BadInput(f"template file not found: {name_or_path}")
        source = str(path)
    else:
        path = builtin_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            names = ", ".join(p.stem for p in sorted(builtin_dir().glob("*.yaml")))
            raise BadInput(f"unknown template '{name_or_path}'; built-in templates: {names} (or give a path to a .yaml file)")
        source = f"builtin:{name_or_path}"
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
        data = load_yaml(text)
    except (UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
        raise BadInput(f"template {path.name} is not valid YAML: {' '.join(str(exc).split())}") from None
    try:
        return _parse(data, path.name, source, hashlib.sha256(raw).hexdigest(), text)
    except ValueError as exc:
        raise BadInput(f"template {path.name}: {exc}") from None


def _parse(data: Any, filename: str, source: str, digest: str, text: str) -> Template:
    if not isinstance(data, dict):
        raise ValueError("the file must be a mapping with name, version and checks")
    unknown = set(data) - {"name", "version", "description", "description_ja", "checks", "min_probes", "decide_on",
                           "approval_grade"}
    if unknown:
        raise ValueError(f"unknown top-level key(s) {', '.join(sorted(unknown))}")
    for key in ("name", "version"):
        if data.get(key) in (None, ""):
            raise ValueError(f"missing '{key}'")
    checks_data = data.get("checks")
    if not isinstance(checks_data, list) or not checks_data:
        raise ValueError("'checks' must be a non-empty list")
    min_probes = data.get("min_probes", 0)
    if isinstance(min_probes, bool) or not isinstance(min_probes, int) or not 0 <= min_probes <= 1_000_000:
        raise ValueError(f"min_probes must be a whole number of probes (0 for no minimum), not {min_probes!r}")
    decide_on = parse_decide_on(data.get("decide_on"), "") or "interval"
    approval_grade = _boolean(data.get("approval_grade", False), "approval_grade")
    known = registry.load_all()
    findings_known = _finding_keys()
    specs: list[CheckSpec] = []
    for i, item in enumerate(checks_data):
        where = f"checks[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ValueError(f"{where} must be a mapping with an 'id'")
        check_id = item["id"]
        if check_id not in known:
            raise ValueError(f"{where}: unknown check '{check_id}' (known: {', '.join(sorted(known))})")
        extra = set(item) - {"id", "params", "conditions", "required", "requires_labels"}
        if extra:
            raise ValueError(f"{where} ({check_id}): unknown key(s) {', '.join(sorted(extra))}")
        cls = known[check_id]
        params = item.get("params") or {}
        if not isinstance(params, dict):
            raise ValueError(f"{where} ({check_id}): params must be a mapping")
        bad_params = set(params) - set(cls.parameters())
        if bad_params:
            raise ValueError(f"{where} ({check_id}): unknown parameter(s) {', '.join(sorted(bad_params))}")
        conditions = []
        for j, cond in enumerate(item.get("conditions") or []):
            cwhere = f"{where}.conditions[{j}] ({check_id})"
            if not isinstance(cond, dict):
                raise ValueError(f"{cwhere} must be a mapping")
            condition = parse_condition(cond, cwhere)
            if condition.metric not in cls.metric_names:
                raise ValueError(f"{cwhere}: {check_id} has no metric '{condition.metric}' "
                                 f"(it has {', '.join(sorted(cls.metric_names))})")
            if condition.finding and condition.finding not in findings_known:
                raise ValueError(f"{cwhere}: unknown finding '{condition.finding}' (the findings catalogue "
                                 "templates/findings.yaml has no such key; `finding:` names its meaning and action)")
            conditions.append(condition)
        required = _boolean(item.get("required", False), f"{where} ({check_id}): required")
        requires_labels = _boolean(item.get("requires_labels", False), f"{where} ({check_id}): requires_labels")
        specs.append(CheckSpec(check_id, dict(params), tuple(conditions), required, requires_labels))
    return Template(name=str(data["name"]), version=str(data["version"]),
                    description=" ".join(str(data.get("description") or "").split()),
                    checks=tuple(specs), sha256=digest, source=source, text=text,
                    description_ja=fold(data.get("description_ja")), min_probes=min_probes, decide_on=decide_on,
                    approval_grade=approval_grade)


def _boolean(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false, not {value!r}")
    return value


def _finding_keys() -> frozenset[str]:
    from auditor.findings import catalogue  # findings needs Template: imported here, not at the top

    return frozenset(catalogue())

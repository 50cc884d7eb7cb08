"""Whether two audits measured a check under the same conditions, and why not, as catalogue messages.

A check is compared only when it ran conclusively (pass, warn or fail) in both audits, under the
same rules (the conditions of the evaluations' templates), the same parameters (the audits' own
templates, defaults filled in) and, for a check that feeds probes to the model, the same probe
set. Anything else is `not_compared` with a reason: a difference there is not a change of the model.
Reasons are `Message`s (sentences comparison.* in templates/sentences/findings.yaml), rendered by
auditor.compare into the English and Japanese fields of its JSON.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from auditor.messages import Message, has, verbatim
from auditor.status import Status
from auditor.store import queries

CONCLUSIVE = frozenset({Status.PASS, Status.WARN, Status.FAIL})
_RULE_KEYS = ("metric", "condition", "reduce", "variant", "warn", "fail", "info", "finding")


def _word(kind: str, value: Any) -> Message:
    """A status as words (comparison.<kind>.<status>); an unknown status as it is stored."""
    key = f"comparison.{kind}.{'not_run' if value is None else value}"
    return Message(key) if has(key) else verbatim(str(value))


@dataclass
class Side:
    """What one audit ran and under which conditions."""

    label: str                                   # "A" or "B"
    audit: dict[str, Any]                        # queries.audit_json
    template: dict[str, Any]                     # name, version, sha256, source, min_probes
    probes: dict[str, Any]                       # spec, sha256, count, kind
    rules: dict[str, list[str]] = field(default_factory=dict)      # check -> canonical rules (evaluation's template)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # check -> parameters it ran with
    statuses: dict[str, str | None] = field(default_factory=dict)

    @property
    def template_words(self) -> Message:
        return Message("comparison.template", {"name": self.template["name"], "version": self.template["version"]})


def _parse(text: str | None) -> Mapping[str, Any]:
    """The stored template text as data, parsed once per text (shared with the read model: read only);
    {} for a text an older rule set no longer reads, so nothing is compared by it."""
    return queries.parsed_template(text)


def _defaults(check_id: str) -> dict[str, Any]:
    from auditor.checks import registry

    cls = registry.load_all().get(check_id)
    return cls.parameters() if cls is not None else {}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def load_side(db: sqlite_utils.Database, label: str, audit: dict[str, Any]) -> Side:
    """One side from its assembled audit (`AuditView.to_json()`) and its stored template texts; each
    text is parsed once however many sides and views read it (queries.parsed_template)."""
    row = queries.audit_row(db, audit["audit_id"])
    evaluation = queries.latest_evaluation(db, row["id"])
    judged = _parse(evaluation["template_text"] if evaluation else row["template_text"])
    measured = _parse(row["template_text"])
    rules = {str(c.get("id")): sorted(_canonical({k: cond.get(k) for k in _RULE_KEYS})
                                      for cond in c.get("conditions") or [] if isinstance(cond, dict))
             for c in judged.get("checks") or [] if isinstance(c, dict)}
    params = {str(c.get("id")): {**_defaults(str(c.get("id"))), **(c.get("params") or {})}
              for c in measured.get("checks") or [] if isinstance(c, dict)}
    probes = audit.get("probes") or {}
    return Side(label=label, audit=audit,
                template={**{k: audit["template"].get(k) for k in ("name", "version", "sha256", "source")},
                          "min_probes": int(judged.get("min_probes") or 0)},
                probes={k: probes.get(k) for k in ("spec", "sha256", "count", "kind", "selection")},
                rules=rules, params=params, statuses={c["id"]: c.get("status") for c in audit["checks"]})


def _probe_words(side: Side) -> Message:
    p = side.probes
    sample = p.get("selection") or {}
    params = {"spec": str(p.get("spec")), "count": p.get("count"), "sha": str(p.get("sha256") or "")[:12]}
    if sample.get("limit") is not None:
        return Message("comparison.probe_set_sampled", {**params, "seed": str(sample.get("seed"))})
    return Message("comparison.probe_set", params)


def same_template(a: Side, b: Side) -> bool:
    return a.template["sha256"] == b.template["sha256"]


def same_probes(a: Side, b: Side) -> bool:
    """The same source (its hash) and the same seeded sample of it (`--limit` and `--seed`)."""
    def key(side: Side) -> tuple[object, ...]:
        return side.probes.get("sha256"), side.probes.get("count"), side.probes.get("selection") or {}

    return key(a) == key(b)


def header_reasons(a: Side, b: Side) -> list[Message]:
    """Sentences about the two audits as a whole: their status, templates and probe sets."""
    out: list[Message] = []
    for side in (a, b):
        status = side.audit.get("status")
        if status != "completed":
            out.append(Message("comparison.audit_not_completed",
                               {"side": side.label, "status": _word("audit_status", status)}))
    if not same_template(a, b):
        out.append(Message("comparison.templates_differ", {
            "a": a.template_words, "sha_a": a.template["sha256"][:12],
            "b": b.template_words, "sha_b": b.template["sha256"][:12]}))
    if not same_probes(a, b):
        out.append(Message("comparison.probe_sets_differ", {"a": _probe_words(a), "b": _probe_words(b)}))
    return out


def _absent(check_id: str, missing: Side, other: Side) -> Message:
    if check_id in missing.rules:
        return Message("comparison.only_in", {"other": other.label, "missing": missing.label})
    return Message("comparison.only_in_template",
                   {"other": other.label, "missing": missing.label, "template": missing.template_words})


def check_reason(check_id: str, a: Side, b: Side) -> tuple[Message, bool] | None:
    """Why this check is not compared, and whether that makes the audits not comparable as a whole
    (a check skipped in both, e.g. a parity check with no reference given, claims nothing either way);
    None when it is compared."""
    sa, sb = a.statuses.get(check_id, "absent"), b.statuses.get(check_id, "absent")
    if "absent" in (sa, sb):
        missing, other = (a, b) if sa == "absent" else (b, a)
        return _absent(check_id, missing, other), True
    parts: list[Message] = []
    if sa == sb == Status.SKIPPED.value:
        return Message("comparison.skipped_in_both"), False
    for side, status in ((a, sa), (b, sb)):
        if Status.of(status) not in CONCLUSIVE:
            parts.append(Message("comparison.status_in", {"status": _word("status", status), "side": side.label}))
    if a.rules.get(check_id) != b.rules.get(check_id):
        metrics = _differing_metrics(a.rules.get(check_id) or [], b.rules.get(check_id) or [])
        parts.append(Message("comparison.rules_differ", {"metrics": metrics}))
    pa, pb = a.params.get(check_id, {}), b.params.get(check_id, {})
    changed = sorted(k for k in set(pa) | set(pb) if _canonical(pa.get(k)) != _canonical(pb.get(k)))
    if changed:
        parts.append(Message("comparison.params_differ", {"params": _param_list(changed, pa, pb)}))
    if not same_probes(a, b) and _feeds_probes(check_id):
        parts.append(Message("comparison.probes_differ"))
    if not parts:
        return None
    return Message("comparison.reasons", {"parts": parts}), True


def _param_words(name: str, pa: dict[str, Any], pb: dict[str, Any]) -> Message:
    """`max_rows: A 512, B 128`; long values (lists of perturbations) by name only."""
    va, vb = _canonical(pa.get(name)), _canonical(pb.get(name))
    if max(len(va), len(vb)) <= 24:
        return Message("comparison.param_values", {"name": name, "a": va, "b": vb})
    return Message("comparison.param_name", {"name": name})


def _param_list(names: list[str], pa: dict[str, Any], pb: dict[str, Any]) -> Message:
    """The differing parameters joined by '; ' (ja '；'): their values hold commas of their own."""
    first = _param_words(names[0], pa, pb)
    if len(names) == 1:
        return first
    return Message("comparison.param_more", {"first": first, "rest": _param_list(names[1:], pa, pb)})


def _differing_metrics(ra: list[str], rb: list[str]) -> list[Any]:
    names = sorted({json.loads(r)["metric"] for r in set(ra) ^ set(rb)}, key=str)
    return [str(n) for n in names] or [Message("comparison.order")]


def _feeds_probes(check_id: str) -> bool:
    from auditor.checks import registry

    cls = registry.load_all().get(check_id)
    return True if cls is None else bool(cls.feeds_probes)


def scope_reason(a: Side, b: Side) -> Message | None:
    """Why findings about the audit as a whole (too few probes, nothing measured) are not compared."""
    if a.template["min_probes"] != b.template["min_probes"]:
        return Message("comparison.min_probes_differ", {"a": a.template["min_probes"], "b": b.template["min_probes"]})
    return None

"""Whether two audits measured a check under the same conditions, and why not, in English and Japanese.

A check is compared only when it ran conclusively (pass, warn or fail) in both audits, under the
same rules (the conditions of the evaluations' templates), the same parameters (the audits' own
templates, defaults filled in) and, for a check that feeds probes to the model, the same probe
set. Anything else is `not_compared` with a reason: a difference there is not a change of the model.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from auditor.status import Status
from auditor.store import queries

CONCLUSIVE = frozenset({Status.PASS, Status.WARN, Status.FAIL})
_RULE_KEYS = ("metric", "condition", "reduce", "variant", "warn", "fail", "info", "finding")
_STATUS_WORDS = {"skipped": ("skipped", "対象外"), "error": ("could not run (error)", "エラーで実行できませんでした"),
                 "inconclusive": ("inconclusive", "判定不能"), "not_applicable": ("not applicable", "対象外"),
                 None: ("not run", "未実行")}

Text = tuple[str, str]   # (English, Japanese)


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
    def template_words(self) -> str:
        return f"{self.template['name']} v{self.template['version']}"


def _parse(text: str | None) -> dict[str, Any]:
    from auditor.safe_yaml import load_yaml

    try:
        data = load_yaml(text) if text else None
    except Exception:  # a stored text an older rule set no longer reads: compare nothing by it
        return {}
    return data if isinstance(data, dict) else {}


def _defaults(check_id: str) -> dict[str, Any]:
    from auditor.checks import registry

    cls = registry.load_all().get(check_id)
    return cls.parameters() if cls is not None else {}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def load_side(db: sqlite_utils.Database, label: str, audit: dict[str, Any]) -> Side:
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


def _probe_words(side: Side) -> str:
    p = side.probes
    sample = p.get("selection") or {}
    drawn = f", a sample drawn with seed {sample.get('seed')}" if sample.get("limit") is not None else ""
    return f"{p.get('spec')} ({p.get('count')} probes{drawn}, sha256 {str(p.get('sha256') or '')[:12]})"


def _probe_words_ja(side: Side) -> str:
    p = side.probes
    sample = p.get("selection") or {}
    drawn = f"、シード {sample.get('seed')} で抽出" if sample.get("limit") is not None else ""
    return f"{p.get('spec')}（{p.get('count')} 件{drawn}、SHA-256 {str(p.get('sha256') or '')[:12]}）"


def same_template(a: Side, b: Side) -> bool:
    return a.template["sha256"] == b.template["sha256"]


def same_probes(a: Side, b: Side) -> bool:
    """The same source (its hash) and the same seeded sample of it (`--limit` and `--seed`)."""
    def key(side: Side) -> tuple[object, ...]:
        return side.probes.get("sha256"), side.probes.get("count"), side.probes.get("selection") or {}

    return key(a) == key(b)


def header_reasons(a: Side, b: Side) -> list[Text]:
    """Sentences about the two audits as a whole: their status, templates and probe sets."""
    out: list[Text] = []
    for side in (a, b):
        status = side.audit.get("status")
        if status != "completed":
            out.append((f"Audit {side.label} is {status}, not completed.",
                        f"監査 {side.label} は完了していません（状態：{status}）。"))
    if not same_template(a, b):
        ta, tb = a.template, b.template
        out.append((f"The audits ran under different templates: A {a.template_words} (sha256 {ta['sha256'][:12]}), "
                    f"B {b.template_words} (sha256 {tb['sha256'][:12]}); only checks run under the same "
                    "conditions in both are compared.",
                    f"2つの監査は異なるテンプレートで実行されました：A は {ta['name']} 版 {ta['version']}"
                    f"（SHA-256 {ta['sha256'][:12]}）、B は {tb['name']} 版 {tb['version']}（SHA-256 "
                    f"{tb['sha256'][:12]}）。同じ条件で両方に実行されたチェックだけを比較します。"))
    if not same_probes(a, b):
        out.append((f"The audits fed different probe sets: A {_probe_words(a)}, B {_probe_words(b)}; checks that "
                    "feed probes to the model are not compared.",
                    f"2つの監査は異なるプローブセットを使いました：A は {_probe_words_ja(a)}、B は "
                    f"{_probe_words_ja(b)}。プローブをモデルに入力するチェックは比較しません。"))
    return out


def _absent(check_id: str, missing: Side, other: Side) -> Text:
    if check_id in missing.rules:
        return (f"run in {other.label} only (audit {missing.label} has no result for it)",
                f"{other.label} でのみ実行されました（監査 {missing.label} には結果がありません）")
    return (f"run in {other.label} only (template {missing.template_words} of {missing.label} does not include it)",
            f"{other.label} でのみ実行されました（{missing.label} のテンプレート {missing.template['name']} 版 "
            f"{missing.template['version']} には含まれていません）")


def check_reason(check_id: str, a: Side, b: Side) -> tuple[Text, bool] | None:
    """Why this check is not compared, and whether that makes the audits not comparable as a whole
    (a check skipped in both, e.g. a parity check with no reference given, claims nothing either way);
    None when it is compared."""
    sa, sb = a.statuses.get(check_id, "absent"), b.statuses.get(check_id, "absent")
    if "absent" in (sa, sb):
        missing, other = (a, b) if sa == "absent" else (b, a)
        return _absent(check_id, missing, other), True
    parts: list[Text] = []
    if sa == sb == Status.SKIPPED.value:
        return ("skipped in both audits", "両方の監査で対象外でした"), False
    for side, status in ((a, sa), (b, sb)):
        if Status.of(status) not in CONCLUSIVE:
            en, ja = _STATUS_WORDS.get(status, (str(status), str(status)))
            parts.append((f"{en} in {side.label}", f"{side.label} では{ja}"))
    if a.rules.get(check_id) != b.rules.get(check_id):
        metrics = _differing_metrics(a.rules.get(check_id) or [], b.rules.get(check_id) or [])
        parts.append((f"its rules differ between the templates ({metrics})",
                      f"2つのテンプレートで条件が異なります（{metrics.replace(', ', '、')}）"))
    pa, pb = a.params.get(check_id, {}), b.params.get(check_id, {})
    changed = sorted(k for k in set(pa) | set(pb) if _canonical(pa.get(k)) != _canonical(pb.get(k)))
    if changed:
        parts.append((f"its parameters differ ({'; '.join(_param_words(k, pa, pb, ', ') for k in changed)})",
                      f"パラメータが異なります（{'；'.join(_param_words(k, pa, pb, '、') for k in changed)}）"))
    if not same_probes(a, b) and _feeds_probes(check_id):
        parts.append(("the probe sets differ", "プローブセットが異なります"))
    if not parts:
        return None
    return ("; ".join(p[0] for p in parts), "。".join(p[1] for p in parts)), True


def _param_words(name: str, pa: dict[str, Any], pb: dict[str, Any], sep: str) -> str:
    """`max_rows: A 512, B 128`; long values (lists of perturbations) by name only."""
    va, vb = _canonical(pa.get(name)), _canonical(pb.get(name))
    return f"{name}: A {va}{sep}B {vb}" if max(len(va), len(vb)) <= 24 else name


def _differing_metrics(ra: list[str], rb: list[str]) -> str:
    names = sorted({json.loads(r)["metric"] for r in set(ra) ^ set(rb)}, key=str)
    return ", ".join(str(n) for n in names) or "order"


def _feeds_probes(check_id: str) -> bool:
    from auditor.checks import registry

    cls = registry.load_all().get(check_id)
    return True if cls is None else bool(cls.feeds_probes)


def scope_reason(a: Side, b: Side) -> Text | None:
    """Why findings about the audit as a whole (too few probes, nothing measured) are not compared."""
    if a.template["min_probes"] != b.template["min_probes"]:
        return (f"the templates' probe minimums differ (A {a.template['min_probes']}, B {b.template['min_probes']})",
                f"テンプレートのプローブ数の下限が異なります（A {a.template['min_probes']}、B "
                f"{b.template['min_probes']}）")
    return None

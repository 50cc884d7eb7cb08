"""What evidence an inconclusive audit lacks and how to get it, in the reader's language.

An `inconclusive` finding says that something needed for a verdict was not measured: a required
check that was skipped or failed (check.required_missing), a figure resting on too few probes
(evidence.insufficient), or the audit as a whole (check_id "audit": evidence.too_few_probes,
evidence.nothing_measured). The board page, the full report and the GUI list them first, grouped
so that one cause (e.g. "no layer-by-layer hidden states") is said once with every check it stops.

The stored detail is English; Japanese is rebuilt from the known sentences the engine writes
(auditor/findings.py, auditor/checks/bottleneck.py), the stored English where a sentence is new.
No reportlab or Qt here: the GUI uses it as well.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from reports.finding_text import finding_detail
from reports.summaries import reason as skip_reason

INCONCLUSIVE = "inconclusive"
AUDIT_SCOPE = "audit"          # the check_id of findings about the audit as a whole (auditor.findings)
SCOPE_WORDS = {"en": "Audit as a whole", "ja": "監査全体"}
_REQUIRED = "required by the template; "
_NOT_IN_TEMPLATE = "this audit has no result for the check (the template it ran under did not include it)"
_WORDS = {
    "en": {"not_run": "did not run: {why}", "failed": "failed to run: {why}", "not_in_template": _NOT_IN_TEMPLATE,
           "undecided": "{what} is not decided: {why}"},
    "ja": {"not_run": "実行されませんでした：{why}", "failed": "実行中にエラーが発生しました：{why}",
           "not_in_template": "この監査にはこのチェックの結果がありません（監査時のテンプレートに含まれていませんでした）",
           "undecided": "{what} は判定できません：{why}"},
}
Rule = tuple[str, Callable[[re.Match[str]], str]]
_WHAT_JA = {"the linear probe": "線形プローブ", "the surrogate": "代理モデル"}
# the reasons auditor/checks/bottleneck.py gives for evidence too thin to decide on, and the audit-wide details
_JA_RULES: list[Rule] = [
    (r"only (\d+) probes were held out to score the linear probe; at least (\d+) are needed to tell its accuracy "
     r"from chance \(give more probes\)",
     lambda m: f"線形プローブの評価用に残したプローブは{m[1]}件のみで、精度を偶然の水準と区別するには少なくとも{m[2]}件が"
               "必要です（プローブを増やしてください）"),
    (r"only (\d+) probes were held out to score (.+?); at least (\d+) are needed to decide on it \(give more probes\)",
     lambda m: f"{_WHAT_JA.get(m[2], m[2])}の評価用に残したプローブは{m[1]}件のみで、判定には少なくとも{m[3]}件が"
               "必要です（プローブを増やしてください）"),
    (re.escape("every held-out probe has the same label, so the chance level is undefined (give probes of at least "
               "two labels)"),
     lambda m: "評価用のプローブがすべて同じラベルのため、偶然の水準が定義できません（2種類以上のラベルのプローブを与えてください）"),
    (re.escape("the linear probe could not be fitted (too few probes per label in the fit split)"),
     lambda m: "線形プローブを当てはめられませんでした（当てはめ用の分割でラベルごとのプローブが少なすぎます）"),
    # auditor/findings.py CIRCULAR_LABELS: a requires_labels check whose labels were the model's own predictions
    (re.escape("the figures used the model's own predictions as labels, which is circular (they measure "
               "agreement with the model itself); give a probe file with a label column"),
     lambda m: "数値はモデル自身の予測をラベルとして用いており、循環しています（モデル自身との一致を測っているにすぎません）。"
               "ラベル列のあるプローブファイルを与えてください"),
    (r"(\d+) probes; template (.+) needs at least (\d+)",
     lambda m: f"プローブは{m[1]}件です。テンプレート {m[2]} には少なくとも{m[3]}件が必要です"),
    (r"no probe reached the model, so only static checks of the file ran(?:: (.+))?",
     lambda m: "どのプローブもモデルに入力されなかったため、実行されたのはファイルの静的な検査のみです"
               + (f"：{skip_reason({'status': 'skipped', 'summary': 'skipped: ' + m[1]}, 'ja')}" if m[1] else "")),
    # the wording of audits stored before the adapter's reason was quoted
    (re.escape("no probe reached the model: every check that feeds it inputs was skipped, so only static checks of "
               "the file ran"),
     lambda m: "どのプローブもモデルに入力されませんでした。モデルに入力を与えるチェックがすべて対象外となったため、"
               "ファイルの静的な検査のみが実行されました"),
]


@dataclass
class Missing:
    """One cause of an inconclusive verdict: what is missing, where, why, and how to get it."""
    title: str
    reason: str
    action: str
    scopes: list[str] = field(default_factory=list)   # check ids ("audit" for the audit as a whole)


def inconclusive_findings(findings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in findings if f.get("severity") == INCONCLUSIVE]


def reason_of(finding: dict[str, Any], lang: str) -> str:
    """Why the evidence is missing, without the parts the title already says; never raises."""
    stored = str(finding.get("detail") or "")
    try:
        return _reason(finding, stored, lang if lang in _WORDS else "en") or stored
    except Exception:  # a report never fails on wording
        return stored


def _reason(f: dict[str, Any], stored: str, lang: str) -> str | None:
    words, key = _WORDS[lang], f.get("key")
    if key == "check.required_missing" and stored.startswith(_REQUIRED):
        rest = stored.removeprefix(_REQUIRED)
        if rest == _NOT_IN_TEMPLATE:
            return words["not_in_template"]
        if rest.startswith("skipped: "):
            return words["not_run"].format(why=skip_reason({"status": "skipped", "summary": rest}, lang))
        if rest.startswith("error: "):
            return words["failed"].format(why=rest.removeprefix("error: "))
        return None
    if lang == "en":
        return stored
    if key == "evidence.insufficient" and " is not decided: " in stored:
        what, why = stored.split(" is not decided: ", 1)
        return words["undecided"].format(what=what, why=_ja(why) or why)
    return _ja(stored)


def _ja(text: str) -> str | None:
    for pattern, make in _JA_RULES:
        found = re.fullmatch(pattern, text)
        if found:
            return make(found)
    return None


def _group_reason(f: dict[str, Any], lang: str) -> str:
    """The reason without the metric it was about, so two rules of one check with one cause read once."""
    text = reason_of(f, lang)
    if f.get("key") == "evidence.insufficient":
        sep = " は判定できません：" if lang == "ja" else " is not decided: "
        return text.split(sep, 1)[-1]
    return text


def detail(finding: dict[str, Any], lang: str) -> str:
    """A finding's detail line in `lang`: the missing-evidence reason for inconclusive findings."""
    if finding.get("severity") == INCONCLUSIVE:
        return reason_of(finding, lang)
    return finding_detail(finding, lang)


def missing_evidence(findings: Iterable[dict[str, Any]], lang: str) -> list[Missing]:
    """Inconclusive findings grouped by (title, reason, action), audit-wide causes first."""
    ja = lang == "ja"
    groups: dict[tuple[str, str, str], Missing] = {}
    ordered = sorted(inconclusive_findings(findings), key=lambda f: f.get("check_id") != AUDIT_SCOPE)
    for f in ordered:
        title = str((f.get("title_ja") if ja else None) or f.get("title") or "")
        action = str((f.get("action_ja") if ja else None) or f.get("action") or "")
        entry = groups.setdefault((title, _group_reason(f, lang), action),
                                  Missing(title=title, reason=_group_reason(f, lang), action=action))
        scope = str(f.get("check_id") or AUDIT_SCOPE)
        if scope not in entry.scopes:
            entry.scopes.append(scope)
    return list(groups.values())


def scope_label(check_id: str, lang: str, titles: Callable[[str], str]) -> str:
    """'Audit as a whole' for audit-wide findings, else the check's plain title from `titles`."""
    if check_id == AUDIT_SCOPE:
        return SCOPE_WORDS.get(lang, SCOPE_WORDS["en"])
    return titles(check_id)

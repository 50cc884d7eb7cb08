"""Every UI string in English and Japanese; `tr(key, lang)` picks one (English when a key lacks ja).

Only the window's chrome lives here. Status words and dimension names are catalogue sentences
(templates/sentences/dimensions.yaml) read through auditor.presentation; the GUI adds only its symbols.
So are the words the GUI shares with the reports (templates/sentences/presentation.yaml): the audit's
run state, trends, the missing-evidence block, and the sign-off roles and decisions, which `tr` still
answers for their GUI keys s.role.<role> and s.dec.<decision>.
"""
from __future__ import annotations

from auditor.messages import has as in_catalogue
from auditor.messages import text as catalogue_text
from auditor.presentation import role_label, status_label, trend_label

LANGUAGES = ("en", "ja")

_EN: dict[str, str] = {
    "app.title": "Transformer auditor",
    "nav.library": "Audit library",
    "nav.new": "New audit",
    "nav.findings": "Findings",
    "nav.compare": "Compare",
    "nav.signoff": "Sign-off",
    "nav.export": "Export",
    "language": "Language",
    "menu.file": "File",
    "menu.open_db": "Open database…",
    "menu.quit": "Quit",
    "db.label": "Database: {path}",
    # library
    "lib.search": "Search model, version, ID or template…",
    "lib.verdict_filter": "Verdict",
    "lib.all": "All",
    "lib.open": "Open findings",
    "lib.refresh": "Refresh",
    "lib.count": "{shown} of {total} audit(s)",
    "lib.empty": "No audits yet: start one on the New audit page.",
    "col.id": "Audit ID", "col.model": "Model", "col.version": "Version", "col.date": "Started (UTC)",
    "col.template": "Template", "col.status": "Status", "col.verdict": "Verdict",
    "col.evidence": "Evidence",   # the signed record's state (gui/widgets/verification.py)
    # new audit
    "new.model": "Model", "new.model_hint": "A transformers folder (safetensors) or an ONNX file",
    "new.pick_folder": "Folder…", "new.pick_file": "File…",
    "new.preview_wait": "Reading the model files…",
    "new.format": "Format", "new.size": "Size", "new.sha": "SHA-256", "new.files": "Files",
    "new.problem": "Problem",
    "new.probes": "Probe set", "new.probe_text": "Built-in text sentences", "new.probe_images": "Built-in images",
    "new.probe_file": "A probe file (CSV, JSONL, NPZ)…", "new.probe_folder": "An image folder (one subfolder per class)…",
    "new.template": "Template", "new.checks": "({n} checks)",
    "new.min_probes": "Needs at least {n} probes: a smaller sample (0 = all probes) is refused before the model loads.",
    "new.meta": "Audit details (printed in the reports)",
    "meta.name": "Model name", "meta.version": "Model version", "meta.purpose": "Intended purpose",
    "meta.users": "Intended users", "meta.out_of_scope": "Out-of-scope uses", "meta.preparer": "Prepared by",
    "meta.decision_requested": "Decision requested",
    "new.limit": "Probe limit (0 = all)", "new.device": "Device",
    "new.run": "Run audit", "new.cancel": "Cancel",
    "new.idle": "Choose a model to begin.",
    "new.starting": "Starting the audit worker…",
    "new.done": "Audit {id} is complete.",
    "new.cancelled": "The audit was cancelled; it is recorded as cancelled.",
    "new.failed": "The audit did not complete.",
    "new.open": "Open findings",
    "new.busy": "An audit is already running.",
    # errors
    "err.title": "The audit could not run",
    "err.pickle": "This model file is a pickle file. Pickle files can run code when they are opened, so "
                  "the auditor refuses them. Ask the model owner for a safetensors or ONNX copy.",
    "err.bad_input": "The auditor refused the input.",
    "err.oom": "The audit ran out of memory. Try a smaller probe limit, or close other programs.",
    "err.failed": "The audit failed while it was running.",
    "err.crash": "The audit worker stopped unexpectedly (it crashed). The application is unaffected; "
                 "you can try again.",
    "err.start": "The audit worker could not be started.",
    "err.details": "Details: {msg}",
    "err.export": "The report could not be built.",
    "err.action": "The action could not be recorded.",
    # findings
    "f.none": "Open an audit from the library.",
    "f.overall": "Overall verdict",
    "f.checks": "Checks",
    "f.figures": "Figures",
    "f.findings": "Findings for this check",
    "f.threshold": "Threshold",
    "f.meaning": "Meaning",
    "f.action": "Recommended action",
    "f.clauses": "Framework clauses",
    "f.summary": "Summary",
    "f.layer": "Layer", "f.head": "Head", "f.value": "Value", "f.metric": "Metric",
    "f.reason": "Why",
    # compare
    "cmp.a": "Audit A (before)", "cmp.b": "Audit B (after)", "cmp.run": "Compare",
    "cmp.summary": "Figures: {improved} improved, {worse} worse, {changed} changed (no direction), {unchanged} unchanged",
    "cmp.better": "▲ better", "cmp.same": "= same", "cmp.new": "+ new", "cmp.gone": "– no longer raised",
    "cmp.not_comparable": "– not comparable",
    "cmp.metrics": "Figures", "cmp.findings": "Findings",
    "cmp.check": "Check", "cmp.delta": "Change", "cmp.direction": "Direction",
    "cmp.improved": "▲ improved", "cmp.worse": "▼ worse", "cmp.unchanged": "= unchanged", "cmp.changed": "~ changed",
    "cmp.need_two": "Choose two different audits.",
    "cmp.not_compared": "○ not compared", "cmp.changes_only": "Changes only",
    "cmp.summary_not_compared": "; {n} not compared (measured under other conditions or in one audit only)",
    "cmp.template_line": "<b>{side}</b> {audit}: template {name} v{version} (SHA-256 {sha}); probes {spec}, {count} "
                         "(SHA-256 {psha})",
    "cmp.warning": "Not comparable as a whole: what was not measured the same way in both audits is shown as "
                   "“not compared”, never as better, worse or resolved.",
    "cmp.ratings": "Ratings by dimension", "cmp.dimension": "Dimension", "cmp.reason": "Why not compared",
    # sign-off
    "s.audit": "Audit", "s.role": "Role", "s.name": "Your name", "s.decision": "Decision",
    "s.sign": "Sign", "s.signed": "Signed as {role} by {name}.",
    "s.signoffs": "Sign-offs", "s.when": "Date (UTC)", "s.history": "History (events)", "s.signer": "Name", "s.actor": "Who",
    "s.event": "Event", "s.detail": "Detail",
    "s.assign": "Finding owners and due dates", "s.owner": "Owner", "s.due": "Due",
    "s.save": "Save assignment", "s.saved": "Assignment saved.", "s.finding": "Finding",
    "s.need_name": "Enter your name first.",
    # export
    "x.kind": "Report", "x.board": "Board summary (1 page)", "x.full": "Full report (regulator)",
    "x.lang": "Report language", "x.preview": "Preview", "x.save": "Save PDF…",
    "x.building": "Building the report…", "x.ready": "Preview ready: {pages} page(s). Save it when it looks right.",
    "x.saved": "Saved {path}",
    "x.need_audit": "Open a completed audit first.",
}

_JA: dict[str, str] = {
    "app.title": "トランスフォーマー監査",
    "nav.library": "監査一覧", "nav.new": "新規監査", "nav.findings": "所見", "nav.compare": "比較",
    "nav.signoff": "承認", "nav.export": "出力",
    "language": "言語", "menu.file": "ファイル", "menu.open_db": "データベースを開く…", "menu.quit": "終了",
    "db.label": "データベース: {path}",
    "lib.search": "モデル名・版・ID・テンプレートで検索…", "lib.verdict_filter": "判定", "lib.all": "すべて",
    "lib.open": "所見を開く", "lib.refresh": "更新", "lib.count": "{total} 件中 {shown} 件",
    "lib.empty": "監査はまだありません。「新規監査」から開始してください。",
    "col.id": "監査ID", "col.model": "モデル", "col.version": "版", "col.date": "開始日時 (UTC)",
    "col.template": "テンプレート", "col.status": "状態", "col.verdict": "判定", "col.evidence": "証跡",
    "new.model": "モデル", "new.model_hint": "transformers フォルダ (safetensors) または ONNX ファイル",
    "new.pick_folder": "フォルダ…", "new.pick_file": "ファイル…", "new.preview_wait": "モデルファイルを読み込み中…",
    "new.format": "形式", "new.size": "サイズ", "new.sha": "SHA-256", "new.files": "ファイル数", "new.problem": "問題",
    "new.probes": "プローブセット", "new.probe_text": "組み込みの文章", "new.probe_images": "組み込みの画像",
    "new.probe_file": "プローブファイル (CSV, JSONL, NPZ)…", "new.probe_folder": "画像フォルダ (クラスごとのサブフォルダ)…", "new.template": "テンプレート", "new.checks": "(チェック {n} 項目)",
    "new.min_probes": "プローブは {n} 件以上が必要です。これより少ない標本（0 はすべてのプローブ）は、モデルを読み込む前に拒否されます。",
    "new.meta": "監査情報 (報告書に記載されます)",
    "meta.name": "モデル名", "meta.version": "モデルの版", "meta.purpose": "利用目的", "meta.users": "想定利用者",
    "meta.out_of_scope": "対象外の用途", "meta.preparer": "作成者", "meta.decision_requested": "求める決定",
    "new.limit": "プローブ数の上限 (0 = すべて)", "new.device": "デバイス",
    "new.run": "監査を実行", "new.cancel": "中止", "new.idle": "モデルを選んでください。",
    "new.starting": "監査プロセスを起動中…", "new.done": "監査 {id} が完了しました。",
    "new.cancelled": "監査を中止しました。中止として記録されています。", "new.failed": "監査は完了しませんでした。",
    "new.open": "所見を開く", "new.busy": "監査を実行中です。",
    "err.title": "監査を実行できませんでした",
    "err.pickle": "このモデルファイルは pickle 形式です。pickle は開くだけでコードを実行できるため、"
                  "受け付けません。safetensors または ONNX 形式のコピーをモデル提供者に依頼してください。",
    "err.bad_input": "入力が受け付けられませんでした。",
    "err.oom": "メモリが不足しました。プローブ数の上限を下げるか、他のプログラムを終了してください。",
    "err.failed": "監査の実行中に失敗しました。",
    "err.crash": "監査プロセスが予期せず停止しました。アプリケーションには影響ありません。再実行できます。",
    "err.start": "監査プロセスを起動できませんでした。", "err.details": "詳細: {msg}",
    "err.export": "報告書を作成できませんでした。", "err.action": "操作を記録できませんでした。",
    "f.none": "監査一覧から監査を開いてください。", "f.overall": "総合判定", "f.checks": "チェック項目",
    "f.figures": "数値", "f.findings": "このチェックの所見", "f.threshold": "閾値", "f.meaning": "意味",
    "f.action": "推奨される対応", "f.clauses": "関連する規定", "f.summary": "概要",
    "f.layer": "層", "f.head": "ヘッド", "f.value": "値", "f.metric": "指標",
    "f.reason": "理由",
    "cmp.a": "監査 A (前)", "cmp.b": "監査 B (後)", "cmp.run": "比較",
    "cmp.summary": "数値: 改善 {improved} 件、悪化 {worse} 件、変化 (方向なし) {changed} 件、変化なし {unchanged} 件",
    "cmp.better": "▲ 改善", "cmp.same": "= 同じ", "cmp.new": "+ 新規", "cmp.gone": "– 解消", "cmp.not_comparable": "– 比較不可",
    "cmp.metrics": "数値", "cmp.findings": "所見", "cmp.check": "チェック", "cmp.delta": "変化",
    "cmp.direction": "方向", "cmp.improved": "▲ 改善", "cmp.worse": "▼ 悪化", "cmp.unchanged": "= 変化なし",
    "cmp.changed": "~ 変化",
    "cmp.need_two": "異なる2つの監査を選んでください。",
    "cmp.not_compared": "○ 比較対象外", "cmp.changes_only": "変化のみ表示",
    "cmp.summary_not_compared": "、比較対象外 {n} 件 (異なる条件で測定、または片方の監査のみで実行)",
    "cmp.template_line": "<b>{side}</b> {audit}：テンプレート {name} 版 {version} (SHA-256 {sha})、プローブ {spec}、{count} 件 "
                         "(SHA-256 {psha})",
    "cmp.warning": "全体としては比較できません。両方の監査で同じ条件で測定されていないものは「比較対象外」と表示し、"
                   "改善・悪化・解消とはみなしません。",
    "cmp.ratings": "観点別の評価", "cmp.dimension": "観点", "cmp.reason": "比較しない理由",
    "s.audit": "監査", "s.role": "役割", "s.name": "氏名", "s.decision": "決定", "s.sign": "署名",
    "s.signed": "{role} として {name} が署名しました。",
    "s.signoffs": "署名", "s.when": "日時 (UTC)", "s.history": "履歴 (イベント)", "s.signer": "氏名", "s.actor": "実行者",
    "s.event": "イベント", "s.detail": "詳細", "s.assign": "所見の担当者と期限", "s.owner": "担当者",
    "s.due": "期限", "s.save": "割り当てを保存", "s.saved": "割り当てを保存しました。", "s.finding": "所見",
    "s.need_name": "先に氏名を入力してください。",
    "x.kind": "報告書", "x.board": "取締役会向け要約 (1ページ)", "x.full": "詳細報告書 (規制当局向け)",
    "x.lang": "報告書の言語", "x.preview": "プレビュー", "x.save": "PDF を保存…",
    "x.building": "報告書を作成中…", "x.ready": "プレビュー完了: {pages} ページ。内容を確認して保存してください。",
    "x.saved": "{path} に保存しました",
    "x.need_audit": "先に完了した監査を開いてください。",
}

TABLES = {"en": _EN, "ja": _JA}


# a symbol beside each status word, so a status never rests on colour alone
SYMBOLS = {"pass": "✓", "warn": "!", "fail": "✗", "error": "?", "skipped": "–", "info": "i", "not_assessed": "–",
           "not_applicable": "–", "inconclusive": "?", None: "–"}


def tr(key: str, lang: str = "en", **fields: object) -> str:
    """The string for `key` in `lang`, formatted with `fields`; the key itself if unknown.

    `v.<status>` is the status word with its symbol (verdict_word); s.role.<role> and s.dec.<decision> are the
    catalogue's sign-off words (signoff.role.*, signoff.decision.*)."""
    if key.startswith("v."):
        return verdict_word(key[2:] if key != "v.none" else None, lang)
    if key.startswith("s.role."):
        return role_label(key[len("s.role."):], lang)
    if key.startswith("s.dec."):
        return catalogue_text(f"signoff.decision.{key[len('s.dec.'):]}", lang)
    if key not in _EN and in_catalogue(key):   # gui.<area>.* keys live in templates/sentences/gui_*.yaml
        return catalogue_text(key, lang, **fields)
    text = TABLES.get(lang, _EN).get(key) or _EN.get(key) or key
    return text.format(**fields) if fields else text


def verdict_word(verdict: str | None, lang: str = "en") -> str:
    """A status as its symbol and plain word (status.<value> in the catalogue), e.g. '? Inconclusive'."""
    return f"{SYMBOLS.get(verdict or None, '?')} {status_label(verdict, lang)}"


# a symbol before each trend word, as on the tiles since the first version
TREND_SYMBOLS = {"better": "▲", "worse": "▼", "same": "="}


def trend_word(trend: str | None, lang: str = "en") -> str:
    """A rating's trend against the last audit as its symbol and words (trend.<trend>); ' ' without one."""
    return f"{TREND_SYMBOLS.get(trend, '')} {trend_label(trend, lang)}".strip() if trend else " "

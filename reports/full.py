"""The full report for regulators: sections 0 to 13 of docs/REPORTS.md."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reportlab.platypus import (
    CondPageBreak,
    PageBreak,
    Spacer,
)

from auditor.condition_text import measured_name, thresholds
from auditor.messages import Message, render
from auditor.presentation import decision_label, dimension_label, metric_label, scope_label, variant_label
from auditor.status import Status
from reports import clauses, counterfactual, fonts, signature_block
from reports.board import missing_block
from reports.data import AUDIT_SCOPE, ReportData, top_risks
from reports.figures import river
from reports.layout import (
    CONTENT_W,
    esc,
    fmt,
    kv_table,
    mark,
    styles,
    table,
    write_pdf,
)
from reports.results import results_story
from reports.textflow import Paragraph  # per-glyph font fallback and Japanese line breaking (kinsoku)
from reports.wording import check_words, direction_word

LIMITATIONS = "check.bottleneck.information_plane.limitations"   # what its estimators cannot say


def _h(t: dict[str, Any], i: int, st: dict) -> Paragraph:
    return Paragraph(esc(t["sections"][i]), st["h1"])


def _control(data: ReportData, t: dict[str, Any], st: dict) -> list:
    a, c = data.view, t["control"]
    tpl, ev = a.template, a.evaluation
    evaluation = "" if ev is None else f"{t['evaluation_reason'].get(ev.reason, ev.reason)} {ev.created_at}"
    pairs = [(c["report_id"], esc(data.report_id)), (c["classification"], esc(t["classification"])),
             (c["tool"], esc((a.environment.get("versions") or {}).get("auditor", "?"))),
             (c["audit_id"], esc(a.audit_id)),
             (c["status"], esc(t["status"].get(a.status, a.status))),
             (c["template"], esc(f"{tpl.name} ({tpl.version})")),
             (c["template_sha"], f'<font name="{fonts.MONO}">{esc(tpl.sha256)}</font>'),
             (c["evaluation"], esc(f"#{a.evaluation_id} {evaluation}")),
             (c["fingerprint"], f'<font name="{fonts.MONO}">{esc(data.fingerprint)}</font>'),
             (c["generated"], esc(data.generated_at)),
             (c["preparer"], esc(a.meta.get("preparer") or "—")),
             (c["language"], esc(t["language_name"]))]
    out = [Paragraph(esc(t["full_title"]), st["title"]),
           Paragraph(esc(f"{data.model.name} {data.model.version or ''}"), st["h2"]),
           _h(t, 0, st), kv_table(pairs, st, key_w=170)]
    if data.stored_fingerprint and data.stored_fingerprint != data.fingerprint:
        out.append(Paragraph(esc(t["fingerprint_mismatch"].format(stored=data.stored_fingerprint)), st["body"]))
    return out


def _executive(data: ReportData, t: dict[str, Any], st: dict) -> list:
    checks = data.checks
    count = {s: sum(1 for ch in checks if ch.status == s) for s in ("pass", "warn", "fail", "inconclusive")}
    verdict = mark(data.shown_verdict or "none", t["verdict"])
    intro = t["exec_intro"].format(verdict="§V§", n_checks=len(checks), n_pass=count["pass"], n_warn=count["warn"],
                                   n_fail=count["fail"], n_inconclusive=count["inconclusive"],
                                   n_other=len(checks) - sum(count.values()))
    out = [_h(t, 1, st), Paragraph(esc(intro).replace("§V§", verdict), st["body"])]
    out += missing_block(data, t, st, limit=None)   # decisions first: what is missing and how to get it
    if data.incomplete or data.missing_checks:
        status = t["status"].get(data.view.status, data.view.status)
        detail = " ".join(filter(None, [data.view.error, t["missing_checks"].format(
            checks=data.missing_titles()) if data.missing_checks else ""]))
        out.append(Paragraph("<b>" + esc(t["incomplete_banner"].format(status=status, detail=detail)) + "</b>"
                             if data.incomplete else esc(detail), st["body"]))
    dims = [[esc(dimension_label(r.dimension, data.lang)), mark(r.rating, t["verdict"]),
             esc(t["trend"].get(r.trend, ""))] for r in data.ratings]
    out.append(table([[t["dimension_h"], t["results"]["verdict"], t["trend_h"]]] + dims, [200, 120, CONTENT_W - 320], st))
    risks = top_risks(data, 10)
    out.append(Paragraph(esc(t["exec_findings"] if risks else t["exec_none"]), st["h2"]))
    ja = data.lang == "ja"
    for f in risks:
        where = scope_label(f.check_id, data.lang)
        out.append(Paragraph(f"{mark(f.severity, t['verdict'])} <b>{esc(f.title_in(data.lang))}</b>"
                             + (f"（{esc(where)}）：" if ja else f" ({esc(where)}): ")
                             + esc(f.detail_in(data.lang)), st["body"]))
    out += [Spacer(1, 4), Paragraph(f"<b>{esc(t['river_title'])}</b>", st["body"]), river(data, t, CONTENT_W),
            Paragraph(esc(t["river_note"]), st["caption"])]
    return out


def _identity(data: ReportData, t: dict[str, Any], st: dict) -> list:
    m, i = data.model, t["identity"]
    mono = f'<font name="{fonts.MONO}">%s</font>'
    pairs = [(i["name"], esc(m.name)), (i["version"], esc(m.version or "—")),
             (i["format"], esc(m.format)), (i["architecture"], esc(m.architecture)),
             (i["parameters"], fmt(m.parameters)), (i["layers"], fmt(m.layers)),
             (i["heads"], fmt(m.heads)), (i["hidden"], fmt(m.hidden_size)),
             (i["dtype"], esc(m.dtype)),
             (i["pooling"], esc(f"{m.pooling or '—'} ({m.pooling_source or ''})")),
             (i["manifest"], mono % esc(m.sha256))]
    notes = data.view.environment.get("input_notes") or []
    if notes:
        pairs.append((i["provenance"], esc("; ".join(map(str, notes)))))
    out = [_h(t, 2, st), kv_table(pairs, st, key_w=170), Spacer(1, 6)]
    files = m.files
    if files:
        rows = [[i["path"], i["size"], i["sha"]]] + [[esc(f.get("path")), fmt(f.get("size")), esc(f.get("sha256"))]
                                                     for f in files]
        out += [Paragraph(esc(i["files"]), st["h2"]), table(rows, [150, 62, CONTENT_W - 212], st, mono_cols=(2,))]
    return out


def _purpose(data: ReportData, t: dict[str, Any], st: dict) -> list:
    meta = data.view.meta
    pairs = [(label, esc(meta.get(key) or t["not_recorded"])) for key, label in t["purpose_fields"].items()]
    return [_h(t, 3, st), kv_table(pairs, st, key_w=150)]


def _scope(data: ReportData, t: dict[str, Any], st: dict) -> list:
    p, pt = data.view.probes, t["probes"]
    pairs = [(pt["spec"], esc(p.get("spec"))), (pt["count"], fmt(p.get("count"))), (pt["kind"], esc(p.get("kind"))),
             (pt["labels"], esc(", ".join(map(str, p.get("label_names") or [])) or "—")),
             (pt["sha"], f'<font name="{fonts.MONO}">{esc(p.get("sha256"))}</font>')]
    rows = [[t["check_h"], t["why_h"], t["status_h"]]]
    for ch in data.checks:
        words = check_words(ch.id, data.lang, t)
        rows.append([f"<b>{esc(words['title'])}</b><br/>{esc(ch.id)}", esc(words["why"]),
                     mark(ch.status, t["verdict"])])
    return [_h(t, 4, st), Paragraph(esc(t["scope_intro"]), st["body"]), kv_table(pairs, st, key_w=150),
            Paragraph(esc(pt["content_note"]), st["small"]), Spacer(1, 6),
            table(rows, [150, CONTENT_W - 230, 80], st)]


def _thresholds(data: ReportData, t: dict[str, Any], st: dict) -> list:
    out = [_h(t, 5, st), Paragraph(esc(t["thresholds_intro"]), st["body"])]
    if not data.conditions:
        return out + [Paragraph(esc(t["no_conditions"]), st["body"])]
    th, lang = t["th"], data.lang
    rows = [[th["check"], th["metric"], th["rule"], th["rationale"]]]
    for c in data.conditions:   # the rule worded once, by auditor.condition_text
        rows.append([esc(c.check_id), esc(render(measured_name(c), lang)), esc(render(thresholds(c), lang)),
                     esc(c.rationale_ja if lang == "ja" and c.rationale_ja else c.rationale)])
    return out + [table(rows, [104, 110, 140, CONTENT_W - 354], st)]


def _register(data: ReportData, t: dict[str, Any], st: dict) -> list:
    r = t["reg"]
    rows = [[r["sev"], r["finding"], r["action"], r["owner"], r["due"]]]
    for f in data.findings:
        where = t["audit_scope"] if f.check_id == AUDIT_SCOPE else f.check_id
        rows.append([mark(f.severity, t["verdict"]), f"<b>{esc(f.title_in(data.lang))}</b> ({esc(where)})<br/>"
                     f"{esc(f.detail_in(data.lang))}", esc(f.action_in(data.lang)), esc(f.owner or r["blank"]),
                     esc(f.due or r["blank"])])
    return [_h(t, 7, st), table(rows, [55, 190, CONTENT_W - 355, 60, 50], st)]


def _limitations(data: ReportData, t: dict[str, Any], st: dict) -> list:
    p = data.view.probes
    probes = f"{p.get('spec')}, {p.get('count')}"
    out = [_h(t, 8, st)]
    out += [Paragraph("• " + esc(line.format(probes=probes)), st["body"]) for line in t["limitations"]]
    stored = data.evidence("bottleneck.information_plane").get("limitations")
    if stored:   # the check's own limitation sentence, in the reader's language
        out.append(Paragraph(esc(render(Message(LIMITATIONS), data.lang, default=str(stored))), st["small"]))
    return out


def _security(data: ReportData, t: dict[str, Any], st: dict) -> list:
    s = t["security"]
    ev = data.evidence("artifact.integrity")
    m = data.metrics("artifact.integrity")
    code = ev.get("custom_code", "—")
    pairs = [(s["custom_code"], esc(s["yes_no"][code] if isinstance(code, bool) else code)),
             (s["custom_ops"], fmt(m.get("custom_operator_count"))),
             (s["external"], fmt(m.get("external_data_files")))]
    out = [_h(t, 9, st), Paragraph(esc(s["intro"]), st["body"]), kv_table(pairs, st, key_w=200),
           Paragraph(esc(s["sha"]), st["body"])]
    parity = data.check("artifact.parity")
    if parity is None or parity.status is Status.SKIPPED:
        out.append(Paragraph(esc(s["parity_skipped"]), st["body"]))
    else:
        out.append(Paragraph(f"{mark(parity.status, t['verdict'])} {esc(parity.summary_in(data.lang))}", st["body"]))
    return out


def _change(data: ReportData, t: dict[str, Any], st: dict) -> list:
    c, cmp_ = t["change"], data.comparison
    out = [_h(t, 10, st)]
    if not cmp_:
        prev = data.view.previous_audit_id
        return out + [Paragraph(esc(c["intro"].format(prev=prev) if prev else c["none"]), st["body"])]
    s = cmp_.get("summary") or {}
    v = cmp_.get("verdict") or {}
    templates = cmp_.get("templates") or {}
    named = {side: c["template"].format(name=(templates.get(side) or {}).get("name"),
                                        version=(templates.get(side) or {}).get("version"),
                                        sha=str((templates.get(side) or {}).get("sha256") or "")[:12])
             for side in ("a", "b")}
    verdicts = esc(c["verdicts"].format(a=t["verdict"].get(v.get("a") or "none"),
                                        b=t["verdict"].get(v.get("b") or "none")))
    if v.get("change") == "not_compared":
        verdicts += " " + esc(c["verdict_not_compared"])
    out += [Paragraph(esc(c["intro"].format(prev=cmp_.get("a"))), st["body"]),
            Paragraph(esc(c["templates"].format(a=named["a"], b=named["b"])), st["body"])]
    if not cmp_.get("comparable", True):
        # the warning comes before any figure, so no change is read without it
        out.append(Paragraph(f"<b>{esc(c['warning'])}</b>", st["body"]))
        out += [Paragraph("• " + esc(r), st["small"])
                for r in cmp_.get("reasons_ja" if data.lang == "ja" else "reasons") or []]
    summary = esc(c["summary"].format(improved=s.get("improved", 0), worse=s.get("worse", 0),
                                      unchanged=s.get("unchanged", 0)))
    if s.get("not_compared"):
        summary += " " + esc(c["not_compared"].format(n=s["not_compared"]))
    out.append(Paragraph(summary + " " + verdicts, st["body"]))
    # figures of checks not compared are summed above and explained by the reasons, not listed as changes
    changed = [m for m in cmp_.get("metrics") or [] if m.get("direction") not in ("unchanged", "not_compared")][:60]
    if changed:
        rows = [[c["metric"], c["a"], c["b"], c["delta"], c["direction"]]]
        for m in changed:
            where = f" layer={m['layer']}" if m.get("layer") is not None else ""
            if m.get("variant") is not None:
                where += f" ({variant_label(m['variant'], data.lang)})"
            name = metric_label(str(m.get("name")), data.lang)
            rows.append([esc(f"{m.get('check_id')} {name}{where}"), fmt(m.get("a")), fmt(m.get("b")),
                         fmt(m.get("delta")), esc(direction_word(m.get("direction"), data.lang))])
        out.append(table(rows, [CONTENT_W - 290, 70, 70, 70, 80], st))
    return out


def _repro(data: ReportData, t: dict[str, Any], st: dict) -> list:
    a, r = data.view, t["repro"]
    env = a.environment
    versions = env.get("versions") or {}
    pairs = [(r["os"], esc(env.get("os"))), (r["python"], esc(versions.get("python"))),
             (r["device"], esc(env.get("device"))), (r["dtype"], esc(_precision(env, r))),
             (r["seed"], esc(env.get("seed"))),
             (r["batch"], esc(env.get("batch_size"))),
             (r["template_sha"], f'<font name="{fonts.MONO}">{esc(a.template.sha256)}</font>'),
             (r["started"], esc(a.started_at)), (r["finished"], esc(a.finished_at or "—")),
             (r["audit_id"], esc(a.audit_id)), (r["evaluation_id"], esc(a.evaluation_id)),
             (r["versions"], esc(", ".join(f"{k} {v}" for k, v in sorted(versions.items())))),
             (r["timings"], esc(json.dumps(env.get("timings") or {})))]
    out = [_h(t, 11, st), kv_table(pairs, st, key_w=150)]
    events = data.view.events
    if events:
        e = t["ev"]
        rows = [[e["at"], e["actor"], e["kind"], e["detail"]]]
        rows += [[esc(x.at), esc(x.actor), esc(t["event_kinds"].get(x.kind, x.kind)), esc(_detail(dict(x.detail)))]
                 for x in events[-30:]]
        out += [CondPageBreak(120), Paragraph(esc(t["events_title"]), st["h2"]), table(rows, [95, 70, 60, CONTENT_W - 225], st)]
    return out


def _precision(env: dict[str, Any], r: dict[str, str]) -> str:
    """The dtype the model ran in, and what was asked for when that differs (audits before --dtype: the
    compute dtype the adapter recorded)."""
    ran = env.get("dtype") or env.get("compute_dtype") or "—"
    asked = env.get("dtype_requested")
    return f"{ran} ({r['dtype_asked'].format(asked=asked)})" if asked and asked != ran else str(ran)


def _detail(detail: Any) -> str:
    """An event's detail in one short line: hashes cut to 16 hex digits."""
    if not isinstance(detail, dict):
        return json.dumps(detail, ensure_ascii=False)[:160]
    parts = []
    for k, v in detail.items():
        text = str(v)
        if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
            text = text[:16] + "…"
        parts.append(f"{k}: {text[:60]}")
    return "; ".join(parts)


def _frameworks(data: ReportData, t: dict[str, Any], st: dict) -> list:
    f = t["fw"]
    rows = [[f["framework"], f["requirement"], f["where"]]] + [[esc(a), esc(b), esc(c)] for a, b, c in t["frameworks"]]
    return [_h(t, 12, st), Paragraph(esc(t["frameworks_intro"]), st["body"]),
            table(rows, [140, CONTENT_W - 250, 110], st),
            *clauses.flowables(data, t, st)]     # the audit template's own clauses, coverage not compliance


def _signoff(data: ReportData, t: dict[str, Any], st: dict) -> list:
    s = t["signoff"]
    signed = {x.role: x.to_json() for x in data.view.signoffs}
    rows = [[s["role"], s["name"], s["decision"], s["date"]]]
    for role, label in s["roles"].items():
        x = signed.get(role) or {}
        rows.append([esc(label), esc(x.get("name") or "\u00a0" * 4), esc(decision_label(x.get("decision"), data.lang)),
                     esc((x.get("at") or "")[:19])])
    tb = table(rows, [90, 170, 150, CONTENT_W - 410], st)
    tb.setStyle([("TOPPADDING", (0, 1), (-1, -1), 12),
                 ("BOTTOMPADDING", (0, 1), (-1, -1), 12)])
    return [_h(t, 13, st), Paragraph(esc(t["signoff_intro"]), st["body"]), tb,
            *signature_block.flowables(data, t)]     # the PDF signature's visible block, when signed


def story(data: ReportData, t: dict[str, Any]) -> list:
    st = styles(data.lang)
    parts: list = []
    parts += _control(data, t, st) + _executive(data, t, st) + [PageBreak()]
    parts += _identity(data, t, st) + _purpose(data, t, st) + _scope(data, t, st) + _thresholds(data, t, st)
    parts += [PageBreak(), _h(t, 6, st)] + results_story(data, t, st)
    parts += counterfactual.section(data, t, st, f"6.{len(data.checks) + 1}")   # by attribute, when it ran
    parts += [PageBreak()] + _register(data, t, st) + _limitations(data, t, st) + _security(data, t, st)
    parts += _change(data, t, st) + _repro(data, t, st) + _frameworks(data, t, st) + _signoff(data, t, st)
    return parts


def build(data: ReportData, t: dict[str, Any], out: Path, meta: dict[str, str]) -> None:
    write_pdf(out, data, t, meta, story(data, t))

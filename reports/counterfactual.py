"""The counterfactual section of the full report and its line on the board page (perturbation.counterfactual).

The check stores, per variant (`overall` and one per protected attribute), the shift per layer
(counterfactual_shift) and the output figures (…_output_cos, …_flip_rate), each with its 95%
interval, and in its evidence the pairs used per attribute, the first-divergence threshold and the
pairs whose outputs moved most, quoted. This module shows them: a chart with one line per attribute
and its intervals, a table per attribute, the quoted pairs, and what the figures do not show. Every
sentence is a catalogue key (templates/sentences/report_counterfactual.yaml); attributes read as words
through auditor.presentation.variant_label.
"""
from __future__ import annotations

import math
from typing import Any

from reportlab.graphics.shapes import Drawing
from reportlab.platypus import CondPageBreak, KeepTogether, Spacer, Table, TableStyle

from auditor.condition_text import place, threshold_lines
from auditor.messages import Message, render, verbatim
from auditor.presentation import axis_label, interval_bounds, variant_label
from auditor.views import CheckView
from reports import fonts
from reports.charts.attributes import attribute_lines
from reports.data import ReportData
from reports.layout import CELL_FONT, CONTENT_W, esc, fmt, table
from reports.textflow import Paragraph
from reports.wording import not_run_reason

CHECK = "perturbation.counterfactual"
SHIFT, COS, FLIP = "counterfactual_shift", "counterfactual_output_cos", "counterfactual_flip_rate"
OVERALL = "overall"


def _say(key: str, lang: str, **params: Any) -> str:
    return render(Message(f"report.counterfactual.{key}", params), lang)


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else None


def _shifts(check: CheckView) -> dict[str, list]:
    """{variant: per-layer shift}, overall first, then the attributes by last-layer shift, largest first."""
    stored = check.metrics.get(SHIFT)
    if not isinstance(stored, dict):
        return {}
    series = {str(k): list(v) for k, v in stored.items() if isinstance(v, list) and v}

    def last(k: str) -> float:
        v = _finite(series[k][-1])
        return -math.inf if v is None else v

    named = sorted((k for k in series if k != OVERALL), key=lambda k: (-last(k), k))
    return {**({OVERALL: series[OVERALL]} if OVERALL in series else {}), **{k: series[k] for k in named}}


def _band(check: CheckView, variant: str, count: int) -> tuple[list, list] | None:
    pairs = [check.interval(SHIFT, layer, variant) for layer in range(count)]
    if not any(pairs):
        return None
    return [p[0] if p else None for p in pairs], [p[1] if p else None for p in pairs]


def _threshold(check: CheckView) -> float | None:
    return _finite(check.evidence.get("threshold"))


def _lines(data: ReportData, check: CheckView) -> list[tuple[float, str, str]]:
    """The template's limits on the shift (info, warn, fail), and the check's first-divergence threshold where
    no limit already sits at it."""
    # an info limit in the report's own words: the catalogue's short info label reads as an efficiency note in ja
    out = [(value, level, _say("info_line", data.lang, value=value) if level == "info" else render(label, data.lang))
           for rule in data.conditions if rule.check_id == CHECK and rule.metric == SHIFT
           for level, value, label in threshold_lines(rule, ("info", "warn", "fail"))]
    divergence = _threshold(check)
    if divergence is not None and all(abs(value - divergence) > 1e-9 for value, _, _ in out):
        out.append((divergence, "info", _say("divergence_line", data.lang, value=divergence)))
    return out


def chart(data: ReportData, check: CheckView, t: dict[str, Any], width: float = CONTENT_W) -> Drawing:
    """One line per attribute (the overall figure first, heavier), each layer's 95% interval as a bar."""
    series = [(variant_label(k, data.lang), v, _band(check, k, len(v))) for k, v in _shifts(check).items()]
    return attribute_lines(series, x_label=axis_label("layer", data.lang), y_label=axis_label("ratio", data.lang),
                           font=fonts.body_font(data.lang), width=width, thresholds=_lines(data, check),
                           no_data_text=t["results"]["missing"])


def _with_interval(value: Any, interval: tuple[Any, Any] | None, lang: str) -> str:
    if _finite(value) is None:
        return "—"
    bounds = interval_bounds(interval, lang) if interval and all(_finite(b) is not None for b in interval) else ""
    return fmt(value) + (f" [{bounds}]" if bounds else "")


def _first_layer(check: CheckView, variant: str, count: int, threshold: float | None, lang: str) -> str:
    """The first layer whose whole interval (its lower bound) is above the threshold, as the check judges it."""
    if threshold is None:
        return "—"
    for layer in range(count):
        interval = check.interval(SHIFT, layer, variant)
        low = _finite(interval[0]) if interval else None
        if low is not None and low > threshold:
            return render(place(SHIFT, layer), lang)
    return _say("none", lang)


def _output(check: CheckView, metric: str, variant: str) -> tuple[Any, tuple[Any, Any] | None]:
    stored = check.metrics.get(metric)
    value = stored.get(variant) if isinstance(stored, dict) else None
    return value, check.interval(metric, variant=variant)


def _table(data: ReportData, check: CheckView, st: dict) -> list:
    lang, shifts = data.lang, _shifts(check)
    if not shifts:
        return []
    layers = max(len(v) for v in shifts.values())
    threshold = _threshold(check)
    counts = check.evidence.get("pairs_by_attribute") or {}
    used = check.evidence.get("pairs_used")
    rows = [[_say("col.attribute", lang), _say("col.pairs", lang), _say("col.shift", lang, layer=layers - 1),
             _say("col.cos", lang), _say("col.flip", lang),
             _say("col.first", lang, threshold=threshold) if threshold is not None else "—"]]
    for variant, values in shifts.items():
        cos, _ = _output(check, COS, variant)
        flip, flip_ci = _output(check, FLIP, variant)
        name = esc(variant_label(variant, lang))
        rows.append([f"<b>{name}</b>" if variant == OVERALL else name,
                     fmt(used if variant == OVERALL else counts.get(variant)),
                     esc(_with_interval(values[-1], check.interval(SHIFT, len(values) - 1, variant), lang)),
                     esc(fmt(cos) if _finite(cos) is not None else "—"), esc(_with_interval(flip, flip_ci, lang)),
                     esc(_first_layer(check, variant, len(values), threshold, lang))])
    return [Paragraph(esc(_say("table", lang)), st["h2"]), table(rows, [100, 34, 122, 60, 110, 97], st)]


def _outputs_line(data: ReportData, check: CheckView, st: dict) -> list:
    """Where the output figures come from, and the check's own first-divergence sentence."""
    said = [s for s in check.sentences if s.key.startswith(("check.perturbation.counterfactual.first_divergence",
                                                             "check.perturbation.counterfactual.no_divergence",
                                                             "check.perturbation.counterfactual.no_outputs"))]
    source = check.evidence.get("outputs")
    parts = []
    if source in ("model_head", "probe_head"):
        which = "head" if source == "model_head" else "probe_head"
        parts.append(_say("outputs", data.lang, source=Message(f"check.perturbation.counterfactual.source.{which}")))
    parts += [_sentence(s, data.lang) for s in said]
    return [Paragraph(esc(("" if data.lang == "ja" else " ").join(parts)), st["small"])] if parts else []


def _sentence(message: Message, lang: str) -> str:
    """A stored clause as a sentence: the English clauses are joined with '; ' in a summary, so capitalise and
    end them here; the Japanese ones already end with 。."""
    text = render(message, lang)
    if lang == "ja" or not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _marked(text: str, other: str) -> str:
    """`text` escaped, with the part that differs from `other` (the swapped attribute) bold and underlined (the
    Japanese font has one weight); a Latin word is marked whole ('she' against 'he', not 's')."""
    if text == other:
        return esc(text)
    start = 0
    while start < min(len(text), len(other)) and text[start] == other[start]:
        start += 1
    end = 0
    while end < min(len(text), len(other)) - start and text[-1 - end] == other[-1 - end]:
        end += 1
    while start > 0 and _latin(text[start - 1]):   # the common prefix ends inside a word
        start -= 1
    while end > 0 and _latin(text[len(text) - end]):   # the common suffix starts inside a word
        end -= 1
    middle = text[start:len(text) - end]
    return esc(text[:start]) + (f"<b><u>{esc(middle)}</u></b>" if middle else "") + esc(text[len(text) - end:])


def _quote(text: Any, other: Any, lang: str) -> str:
    marked = _marked(str(text), str(other))
    return f"「{marked}」" if lang == "ja" else f"“{marked}”"


def _moves(data: ReportData, check: CheckView, st: dict) -> list:
    moves = [m for m in check.evidence.get("largest_output_moves") or [] if isinstance(m, dict)]
    if not moves:
        return []
    lang = data.lang
    rows = [[_say("col.text_a", lang), _say("col.text_b", lang), _say("col.attribute", lang),
             _say("col.change", lang)]]
    for m in moves:
        cos = _finite(m.get("output_cos"))
        change = _say("move.flipped" if m.get("flipped") else "move.kept", lang, cos=cos)
        rows.append([_quote(m.get("text_a"), m.get("text_b"), lang), _quote(m.get("text_b"), m.get("text_a"), lang),
                     esc(variant_label(str(m.get("attribute")), lang)), esc(change)])
    return [Paragraph(esc(_say("moves", lang)), st["h2"]), Paragraph(esc(_say("moves_intro", lang)), st["small"]),
            table(rows, [150, 150, 88, 135], st)]


def section(data: ReportData, t: dict[str, Any], st: dict, number: str) -> list:
    """The section when the audit ran the check; one sentence when it was skipped or failed; nothing when the
    audit did not run it (the scope table and the coverage lines say so)."""
    check = data.check(CHECK)
    if check is None:
        return []
    lang = data.lang
    heading = Paragraph(f"{number} {esc(_say('heading', lang))}", st["h1"])
    if check.outcome in ("skipped", "error"):
        why = not_run_reason(check, lang) or check.summary_in(lang)
        why += "" if lang == "ja" or why.endswith(".") else "."   # the stored reason is a clause
        key = "skipped" if check.outcome == "skipped" else "error"
        return [CondPageBreak(60), heading, Paragraph(esc(_say(key, lang, why=verbatim(why))), st["body"])]
    out: list = [CondPageBreak(300), heading]   # the heading, the words and the chart on one page
    out += [Paragraph(esc(_say("measured", lang, used=check.evidence.get("pairs_used"))), st["body"]),
            Paragraph(f"<b>{esc(_say('chart', lang))}</b>", st["cell"]), chart(data, check, t)]
    out += _table(data, check, st) + _outputs_line(data, check, st) + _moves(data, check, st)
    out.append(KeepTogether([Spacer(1, 6), Paragraph(f"<b>{esc(_say('not_fairness', lang))}</b>", st["body"])]))
    return out


def _worst_flips(check: CheckView, attributes: list[str], overall: float, lang: str) -> str:
    """The attribute whose swaps change the most predictions, when that is more than overall: the rules judge
    all attributes together, so one attribute's share would otherwise hide inside the overall figure."""
    rates = {a: v for a in attributes if (v := _finite(_output(check, FLIP, a)[0])) is not None}
    if not rates:
        return ""
    worst = max(rates, key=lambda a: (rates[a], a))
    if rates[worst] <= overall:
        return ""
    low, high = check.interval(FLIP, variant=worst) or (None, None)
    counts = check.evidence.get("pairs_by_attribute") or {}
    return (" " if lang != "ja" else "") + _say("board_worst", lang, attribute=verbatim(variant_label(worst, lang)),
                                                flips=rates[worst], low=low, high=high, pairs=counts.get(worst))


def board_line(data: ReportData, st: dict) -> list:
    """One line for the board page: the overall last-layer shift, the flip rate and the attribute that moved
    most, in plain words; nothing when the check did not produce figures."""
    check = data.check(CHECK)
    shifts = _shifts(check) if check is not None and check.outcome not in ("skipped", "error") else {}
    overall = _finite(shifts.get(OVERALL, [None])[-1]) if shifts else None
    named = [k for k in shifts if k != OVERALL and _finite(shifts[k][-1]) is not None]
    if check is None or overall is None or not named:
        return []
    lang = data.lang
    attribute = verbatim(variant_label(named[0], lang))   # the attribute that moved the last layer most
    flip, flip_ci = _output(check, FLIP, OVERALL)
    if _finite(flip) is None:
        text = _say("board_no_outputs", lang, shift=overall, attribute=attribute)
    else:
        low, high = flip_ci if flip_ci else (None, None)
        text = _say("board", lang, shift=overall, flips=flip, low=low, high=high, attribute=attribute)
        text += _worst_flips(check, named, float(flip), lang)
    colon = "：" if lang == "ja" else ": "
    # in a table of the page's width: when the board shrinks to fit, it keeps the tables' width instead of
    # rewrapping wider than them
    line = Table([[Paragraph(f"<b>{esc(_say('heading', lang))}</b>{colon}{esc(text)}", st["cell"])]],
                 colWidths=[CONTENT_W])
    line.setStyle(TableStyle([CELL_FONT, ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return [Spacer(1, 3), line]


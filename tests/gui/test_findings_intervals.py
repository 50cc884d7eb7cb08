"""The findings page shows a figure's 95% interval beside its value (issue 14): a column of the figures
table and a shaded band under a per-layer line chart; an audit without intervals shows neither and still
draws. The audit is written through the store and evaluated by the real engine (tests/unit/test_report_intervals)."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QTableWidget

from gui.widgets.charts import LineChart
from tests.unit.test_report_intervals import HIGH, LOW, stored_audit


def _open(make_window, tmp_path, lang: str, intervals: bool):
    db = tmp_path / "audits.db"
    audit_id = stored_audit(db, tmp_path, intervals=intervals)
    window = make_window(db)
    window.set_language(lang)
    window.state.open_audit(audit_id)
    return window.findings


def _figures(page, check_id: str) -> dict[str, tuple[str, str, str]]:
    """The figures table of `check_id`: {metric code: (name, value, interval)} and its headers."""
    page.select_check(check_id)
    (table,) = page.detail.findChildren(QTableWidget)
    rows = {table.item(r, 0).toolTip(): tuple(table.item(r, c).text() for c in range(3))
            for r in range(table.rowCount())}
    rows["header"] = tuple(table.horizontalHeaderItem(c).text() for c in range(3))
    return rows


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_figures_table_and_the_charts_show_the_interval(make_window, tmp_path, lang):
    page = _open(make_window, tmp_path, lang, intervals=True)
    rows = _figures(page, "perturbation.sensitivity")
    assert rows["header"][2] == ("95% CI" if lang == "en" else "95%信頼区間")
    dash = "–" if lang == "en" else "〜"
    assert rows["output_cos"][1:] == ("0.309", f"0.297{dash}0.319")
    assert rows["flip_rate"][1:] == ("0.181", f"0.137{dash}0.24")
    page.select_check("flow.representation")
    (chart,) = [c for c in page.detail.findChildren(LineChart) if c.spec.series[0].values]
    series = chart.spec.series[0]
    assert (list(series.low), list(series.high)) == (LOW, HIGH)
    assert chart.spec.band_label == ("shaded: 95% CI" if lang == "en" else "網掛け：95%信頼区間")
    assert chart._legend_entries() == len(chart.spec.series) + 1
    assert not chart.grab().isNull()     # paints with the band


def test_without_intervals_nothing_is_shaded_and_the_column_is_blank(make_window, tmp_path):
    page = _open(make_window, tmp_path, "en", intervals=False)
    rows = _figures(page, "perturbation.sensitivity")
    assert rows["output_cos"][1:] == ("0.309", "")
    page.select_check("flow.representation")
    for chart in page.detail.findChildren(LineChart):
        assert all(s.low is None for s in chart.spec.series)
        assert chart._legend_entries() == len(chart.spec.series)
        assert not chart.grab().isNull()


def test_compare_names_findings_and_reducers_in_the_gui_language(make_window, tmp_path):
    """Finding titles come from the stored findings (FindingView.title_in), reducers from the catalogue."""
    db = tmp_path / "audits.db"
    a, b = stored_audit(db, tmp_path, intervals=False), stored_audit(db, tmp_path, intervals=True)
    window = make_window(db)
    window.set_language("ja")
    window.show_page("compare")
    page = window.compare
    page.set_pair(a, b)
    page.changes_only.setChecked(False)   # the two audits are alike: their rows are unchanged ones
    titles = {page.findings.item(r, 1).text() for r in range(page.findings.rowCount())}
    assert "情報をほとんど変化させない層" in titles and "Layers that barely change the information" not in titles
    names = [page.metrics.item(r, 1).text() for r in range(page.metrics.rowCount())]
    assert any("（最も厳しい層）" in n or "(最も厳しい層)" in n for n in names), names
    assert not any("any_layer" in n for n in names)

"""Every chart kind renders to vector PDF in embedded fonts, with data and without (a 'no data' box)."""
from __future__ import annotations

import pytest
from reportlab.graphics import renderPDF

from reports import charts, fonts
from reports.fonts import japanese_font_path

fonts.register_fonts()
F = fonts.SANS

CASES = {
    "layer_lines": lambda: charts.layer_lines([("a", [1, 2, None, 4]), ("baseline", [1, 1, 1, 1])], x_label="x",
                                              y_label="y", font=F, thresholds=[(3, "warn", "warn 3")]),
    "layer_lines_log": lambda: charts.layer_lines([("g", [0.1, 1, 10])], x_label="x", y_label="y", font=F, log_y=True),
    "stacked_shares": lambda: charts.stacked_shares([("d", [0.1, 0.2]), ("a", [0.3, 0.3]), ("r", [0.6, 0.5])],
                                                    x_label="x", y_label="y", font=F),
    "hbars": lambda: charts.hbars([("mask@0.05", 0.1), ("delete", None)], value_label="v", font=F,
                                  thresholds=[(0.2, "fail", "fail")]),
    "heatmap": lambda: charts.heatmap([[0.1, 0.2, None], [0.3, 0.4, 0.5]], x_label="h", y_label="l",
                                      value_label="imp", font=F),
    "information_plane": lambda: charts.information_plane([("KDE", [(4.1, 0.8), (4.0, 0.9)])], x_label="x",
                                                          y_label="y", font=F),
    "information_river": lambda: charts.information_river([1, 0.9, 0.7, 0.7], task=[0.3, 0.3, 0.4, 0.5],
                                                          lost_at=[2], blocked_at=[3], x_label="layer",
                                                          legend=("a", "b", "c", "d"), font=fonts.JAPANESE),
}
EMPTY = {
    "layer_lines": lambda: charts.layer_lines([("a", [])], x_label="x", y_label="y", font=F),
    "stacked_shares": lambda: charts.stacked_shares([], x_label="x", y_label="y", font=F),
    "hbars": lambda: charts.hbars([], value_label="v", font=F),
    "heatmap": lambda: charts.heatmap([], x_label="h", y_label="l", value_label="v", font=F),
    "information_plane": lambda: charts.information_plane([], x_label="x", y_label="y", font=F),
    "information_river": lambda: charts.information_river([None], x_label="l", legend=("a", "b", "c", "d"), font=F),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_chart_renders_vector_pdf_in_embedded_fonts(name):
    drawing = CASES[name]()
    pdf = renderPDF.drawToString(drawing)
    assert pdf.startswith(b"%PDF") and b"/FontFile2" in pdf
    assert b"Helvetica" not in pdf


@pytest.mark.parametrize("name", sorted(EMPTY))
def test_chart_without_data_says_so(name):
    drawing = EMPTY[name]()
    assert any(getattr(s, "text", "") == "no data" for s in drawing.contents)
    assert renderPDF.drawToString(drawing).startswith(b"%PDF")


def test_ticks_are_round_and_cover_the_range():
    ticks = charts.nice_ticks(0.03, 0.97)
    assert ticks[0] <= 0.03 and ticks[-1] >= 0.97 and len(ticks) <= 8


def test_japanese_font_path_ships_with_the_package():
    assert japanese_font_path().is_file() and japanese_font_path().suffix == ".ttf"

"""A read-only table of rows (the library, the queue): whole rows selected one at a time, Tab leaves the table
(arrows move between rows), no word wrap, pixel scrolling, columns sized to their contents but one that
takes the rest of the width."""
from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget


def row_table(columns: int, stretch: int, widest: int) -> QTableWidget:
    """A table of `columns` columns whose column `stretch` takes the free width; no column wider than `widest`."""
    table = QTableWidget(0, columns)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setTabKeyNavigation(False)          # Tab leaves the table; arrows move between rows
    table.setWordWrap(False)
    table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    header.setMaximumSectionSize(widest)
    return table

"""The findings dashboard: decisions first. The overall verdict, whether the audit is fit for approval, its
sign-off state, what evidence is missing, the dimension tiles (with the checks that did not run), and per
check its findings (what needs attention first), charts and figures. The page opens on the most severe check.

With no audit open it says what to do in one sentence; a run that ended without a verdict (cancelled,
failed, interrupted) says so, when, and what was measured, instead of empty panels and grey tiles. The page
re-reads its audit on state.audit_changed, so a sign-off or an owner assigned elsewhere shows at once.
"""
from __future__ import annotations

import html
import threading

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from auditor import messages
from auditor.coverage import CHECKS_BY_DIMENSION, coverage_message, statuses_of
from auditor.presentation import missing_evidence, presentation, scope_label, status_label
from auditor.views import DIMENSIONS, AuditView
from gui.pages.findings_detail import CheckDetail
from gui.pages.findings_states import banner_lines, empty_lines, heading_html, signoff_lines, stopped_lines
from gui.source import Unreachable, unverified
from gui.state import AppState
from gui.strings import verdict_word
from gui.theme import BACKGROUNDS, COLOURS, colour
from gui.widgets.banner import Banner
from gui.widgets.finding_cards import most_severe_row
from gui.widgets.tiles import Badge, DimensionTile
from gui.widgets.verification import PENDING, EvidenceLabel, cached, check_later

SYMBOL = {"pass": "✓", "warn": "!", "fail": "✗", "error": "?", "skipped": "–", "info": "i", "inconclusive": "?"}
# the sign-off sentence's colour by state, each at least 4.5:1 on the window background (#efefef)
SIGNOFF_COLOURS = {"approved": "#1b5e20", "conditions": "#8a5300", "rejected": "#b71c1c", "awaiting": "#212121"}
_prepared: list[threading.Thread] = []


def _prepare_presentations() -> None:
    """Loads the checks' declared presentations (the check registry: about 0.1 s) on a background thread once
    per process, once the event loop runs, so the first audit opened does not wait for it."""
    if not _prepared:
        _prepared.append(threading.Thread(target=presentation, args=("artifact.integrity",), daemon=True,
                                          name="presentations"))
        _prepared[0].start()


class FindingsPage(QWidget):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.view: AuditView | None = None
        self.detail: QWidget = QWidget()
        self._make_widgets()
        self._lay_out()
        state.audit_opened.connect(self.load)
        state.audit_changed.connect(self._audit_changed)
        state.language_changed.connect(lambda _l: self.render())
        state.db_changed.connect(lambda _d: self.load(""))
        state.audits_changed.connect(self._check_evidence)   # a sign-off or assignment adds signed events
        self.render()
        QTimer.singleShot(0, _prepare_presentations)

    def _make_widgets(self) -> None:
        self.title = QLabel(wordWrap=True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict = Badge()
        self.evidence = EvidenceLabel()   # the signed record: verified, broken (why) or not signed
        self.signoff = QLabel(wordWrap=True)
        self.signoff.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.signoff.setStyleSheet("color:#212121;")
        self.banner = Banner("approvalBanner")   # not approval-grade: quick audit, not for approval
        self.state_panel = Banner("statePanel")  # no audit open; a run that ended without a verdict
        self.missing = QLabel(wordWrap=True)   # decisions first: what evidence is missing and how to get it
        self.missing.setObjectName("missing")
        self.missing.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.missing.setStyleSheet(f"QLabel#missing {{background:{BACKGROUNDS['inconclusive']};"
                                   f"border:2px solid {COLOURS['inconclusive']};border-radius:6px;padding:6px;}}")
        self.tiles = {d: DimensionTile(d) for d in DIMENSIONS}
        self.checks_label = QLabel()
        self.checks_label.setStyleSheet("font-weight:bold;")
        self.checks = QListWidget()
        self.checks_label.setBuddy(self.checks)
        self.checks.setWordWrap(True)             # long titles wrap: no horizontal scrollbar at 1366 px
        self.checks.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.checks.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.checks.setResizeMode(QListView.ResizeMode.Adjust)
        self.checks.setTabKeyNavigation(False)
        self.checks.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.checks.setMinimumWidth(160)
        self.checks.currentRowChanged.connect(self._show_check)
        self.checks.itemActivated.connect(lambda _i: self.detail_area.setFocus())   # Return: read the details
        self.detail_area = QScrollArea(widgetResizable=True)
        self.detail_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.detail_area.setFocusPolicy(Qt.FocusPolicy.StrongFocus)   # arrows and Page Down scroll the details
        self.detail_area.setWidget(self.detail)

    def _lay_out(self) -> None:
        heading = QVBoxLayout()
        heading.setSpacing(2)
        for widget in (self.title, self.evidence, self.signoff):
            widget.setContentsMargins(0, 0, 0, 3)   # rich text's last line is measured short: descenders were cut
            heading.addWidget(widget)
        header = QHBoxLayout()
        header.addLayout(heading, 1)
        header.addWidget(self.verdict, 0, Qt.AlignmentFlag.AlignTop)
        self.tile_row = QWidget()
        tiles = QHBoxLayout(self.tile_row)
        tiles.setContentsMargins(0, 0, 0, 0)
        for tile in self.tiles.values():
            tiles.addWidget(tile, 1)   # equal widths: no tile looks more important for its words
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.checks_label)
        side_layout.addWidget(self.checks, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(side)
        self.splitter.addWidget(self.detail_area)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([280, 880])
        # never squeezed below a few checks and a card: at 200% scaling the page scrolls in the window instead
        self.splitter.setMinimumHeight(240)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        for widget in (self.banner, self.state_panel, self.missing, self.tile_row):
            layout.addWidget(widget)
        layout.addWidget(self.splitter, 1)
        self.filler = QWidget()   # takes the page's height while there are no checks, so the text stays on top
        self.filler.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        layout.addWidget(self.filler, 1)

    # ------------------------------------------------------------------ reading the audit

    def load(self, audit_id: str) -> None:
        """Opens `audit_id` ('' for none) on its most severe check."""
        try:
            self.view = self.state.source.audit_view(audit_id) if audit_id else None
        except Unreachable:       # the service did not answer: the empty state says so (findings_states)
            self.view = None
        self._check_evidence()
        self.render(open_on=most_severe_row(self.view) if self.view else -1)

    def _audit_changed(self, audit_id: str) -> None:
        """The stored record changed (sign-off, assignment, re-evaluation, a run ended): re-read it, keeping
        the check shown; with no audit open, the empty state may change (the first audit was stored)."""
        if self.view is None:
            self.render()
            return
        if audit_id in ("", self.view.audit_id):
            try:
                self.view = self.state.source.audit_view(self.view.audit_id)
            except Unreachable:   # the window's line says the service is not answering; what was read stays
                return
            self._check_evidence()
            self.render()

    def _check_evidence(self) -> None:
        """The open audit's signed-record state, checked on a pool thread unless cached for the file as it is."""
        if self.view is None or not self.state.source.local or cached(self.state.db, self.view.audit_id) is not None:
            return
        audit_id, db = self.view.audit_id, self.state.db

        def done() -> None:
            if self.view is not None and self.view.audit_id == audit_id and db == self.state.db:
                self._show_evidence()
        check_later(db, [audit_id], done, self)

    def _show_evidence(self) -> None:
        view = self.view
        if view is not None and not self.state.source.local:
            self.evidence.set_evidence(unverified(self.state.lang), self.state.lang)
            return
        self.evidence.set_evidence(None if view is None else cached(self.state.db, view.audit_id) or PENDING,
                                   self.state.lang)

    # ------------------------------------------------------------------ showing it

    def render(self, open_on: int = -1) -> None:
        """Everything from self.view in the UI language; on `open_on` (a check row) or the check shown now."""
        t, lang, view = self.state.tr, self.state.lang, self.view
        shown = self._current_check_id()
        self._retranslate()
        self._show_evidence()
        if view is None:
            self._show_empty()
            return
        title, full_name = heading_html(view, lang)
        self.title.setText(title)
        self.title.setToolTip(full_name)
        self.title.setAccessibleName(t("gui.findings.title.name", audit_id=view.audit_id, model=full_name))
        decided = view.status == "completed"
        self.verdict.setVisible(decided)
        self.verdict.set_status(str(view.verdict) if view.verdict else None, lang, prefix=t("f.overall") + ": ")
        self.signoff.setVisible(decided)
        if decided:   # a run without a verdict cannot be signed: the state panel below says why
            self._show_signoff(view)
        self.banner.say(banner_lines(view, t), "warn", t("gui.findings.banner.name"))
        if decided:
            self.state_panel.clear_banner()
        else:
            self.state_panel.say(stopped_lines(view, t, lang), "fail" if view.status == "failed" else "info",
                                 t("gui.findings.state.name"))
        self._show_missing(view)
        self._show_tiles(view, decided)
        self.splitter.setVisible(bool(view.checks))
        self.filler.setVisible(not view.checks)
        self._fill_checks(view, open_on, shown)

    def _show_signoff(self, view: AuditView) -> None:
        """The sign-off state in bold (coloured and worded by state), then who signed what and when."""
        state, lines = signoff_lines(view, self.state.tr, self.state.lang)
        self.signoff.setProperty("signoff_state", state)
        self.signoff.setText(f"<span style='color:{SIGNOFF_COLOURS.get(state, '#212121')}'><b>"
                             f"{html.escape(lines[0])}</b></span>" + "".join(f"<br>{html.escape(x)}" for x in lines[1:]))
        self.signoff.setAccessibleDescription(" ".join(lines))

    def _retranslate(self) -> None:
        t = self.state.tr
        self.checks_label.setText(t("gui.findings.checks_label"))
        self.checks.setAccessibleName(t("gui.findings.checks.name"))
        self.checks.setAccessibleDescription(t("gui.findings.checks.description"))
        self.detail_area.setAccessibleDescription(t("gui.findings.detail.description"))
        self.signoff.setAccessibleName(t("gui.findings.signoff.name"))
        self.missing.setAccessibleName(messages.text("missing.title", self.state.lang))

    def _show_empty(self) -> None:
        """No audit open: one sentence saying what to do; nothing that could be read as a result."""
        t = self.state.tr
        self.title.setText("")
        self.title.setToolTip("")
        for widget in (self.verdict, self.signoff, self.missing, self.tile_row, self.splitter):
            widget.hide()
        self.filler.show()
        self.banner.clear_banner()
        self.state_panel.say(empty_lines(self.state.source, t), "info", t("gui.findings.state.name"), size_pt=13)
        self.checks.blockSignals(True)
        self.checks.clear()
        self.checks.blockSignals(False)
        self._show_check(-1)

    def _show_tiles(self, view: AuditView, decided: bool) -> None:
        """The tiles of a decided audit, each with the checks that did not run; hidden for a run without a verdict."""
        self.tile_row.setVisible(decided)
        statuses, lang = statuses_of(view), self.state.lang
        for dim, tile in self.tiles.items():
            rating = view.rating(dim)
            said = coverage_message(statuses, dim)
            tile.set_rating(str(rating.rating) if rating else None, rating.trend if rating else None, lang,
                            coverage=messages.render(said, lang) if said else "",
                            total=len(CHECKS_BY_DIMENSION.get(dim, ())))

    def _fill_checks(self, view: AuditView, open_on: int, shown: str | None) -> None:
        lang = self.state.lang
        self.checks.blockSignals(True)
        self.checks.clear()
        for check in view.checks:
            status = str(check.status)
            title = presentation(check.id).title_in(lang)
            item = QListWidgetItem(f"{SYMBOL.get(status, ' ')}  {title}")
            item.setForeground(colour(status))
            item.setToolTip(f"{title} ({check.id}) · {verdict_word(status, lang)}")
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{title}: {status_label(status, lang)}")
            item.setData(Qt.ItemDataRole.UserRole, check.id)
            self.checks.addItem(item)
        ids = [c.id for c in view.checks]
        row = open_on if open_on >= 0 else (ids.index(shown) if shown in ids else most_severe_row(view))
        self.checks.setCurrentRow(row)
        self.checks.blockSignals(False)
        self._show_check(self.checks.currentRow())   # once: the detail is the costly part

    def _current_check_id(self) -> str | None:
        item = self.checks.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _show_missing(self, view: AuditView) -> None:
        """The inconclusive findings, one line per cause with the checks it stops, above everything else."""
        lang = self.state.lang
        items = missing_evidence(view.findings, lang)
        self.missing.setVisible(bool(items))
        if not items:
            self.missing.setText("")
            return
        colon, left, right = ("：", "（", "）") if lang == "ja" else (": ", " (", ")")
        comma, how = messages.text("join.list", lang), html.escape(messages.text("missing.how", lang))
        lines = [f"<b>{html.escape(messages.text('missing.title', lang))}</b><br>"
                 f"{html.escape(messages.text('missing.intro', lang))}"]
        for m in items:
            where = comma.join(scope_label(c, lang) for c in m.scopes)
            lines.append(f"<span style='color:{COLOURS['inconclusive']}'><b>?</b></span> "
                         f"<b>{html.escape(m.title)}</b>{left}{html.escape(where)}{right}{colon}"
                         f"{html.escape(m.reason)}<br>&nbsp;&nbsp;→ <b>{how}</b>{colon}{html.escape(m.action)}")
        self.missing.setText("<br>".join(lines))

    def select_check(self, check_id: str) -> None:
        for i, check in enumerate(self.view.checks if self.view else ()):
            if check.id == check_id:
                self.checks.setCurrentRow(i)

    def _show_check(self, row: int) -> None:
        checks = self.view.checks if self.view else ()
        body = QWidget()
        if 0 <= row < len(checks) and self.view is not None:
            body = detail = CheckDetail(self.view, checks[row], self.state.tr, self.state.lang)
            self.detail_area.setAccessibleName(self.state.tr("gui.findings.detail.name", check=detail.title))
        old = self.detail_area.takeWidget()
        if old is not None:
            old.deleteLater()
        self.detail = body
        self.detail_area.setWidget(body)

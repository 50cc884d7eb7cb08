"""The main window: a page list on the left, the pages in a stack, language and database in the toolbar."""
from __future__ import annotations

from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QStackedWidget,
    QToolBar,
    QWidget,
)

from auditor import api
from gui.pages.compare import ComparePage
from gui.pages.export import ExportPage
from gui.pages.findings import FindingsPage
from gui.pages.library import LibraryPage
from gui.pages.new_audit import NewAuditPage
from gui.pages.signoff import SignOffPage
from gui.settings import Settings
from gui.state import AppState
from gui.theme import apply_language_font

PAGES = ("library", "new", "findings", "compare", "signoff", "export")


class MainWindow(QMainWindow):
    def __init__(self, db: str | None = None, settings: Settings | None = None) -> None:
        super().__init__()
        self.state = AppState(settings or Settings(), db)
        self.library = LibraryPage(self.state)
        self.new_audit = NewAuditPage(self.state)
        self.findings = FindingsPage(self.state)
        self.compare = ComparePage(self.state)
        self.signoff = SignOffPage(self.state)
        self.export = ExportPage(self.state)
        self.stack = QStackedWidget()
        for page in (self.library, self.new_audit, self.findings, self.compare, self.signoff, self.export):
            self.stack.addWidget(page)
        self.nav = QListWidget()
        self.nav.addItems(["" for _ in PAGES])
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.nav.setFixedWidth(170)
        self.nav.setStyleSheet("QListWidget {font-size: 11pt;} QListWidget::item {padding: 8px 6px;}")
        body = QWidget()
        row = QHBoxLayout(body)
        row.setContentsMargins(4, 4, 4, 4)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(body)

        self.language = QComboBox()
        self.language.addItem("English", "en")
        self.language.addItem("日本語", "ja")
        self.language.setCurrentIndex(self.language.findData(self.state.lang))
        self.language.currentIndexChanged.connect(lambda _i: self.set_language(self.language.currentData()))
        self.language_label = QLabel()
        self.db_label = QLabel()
        toolbar = QToolBar()
        toolbar.setMovable(False)
        toolbar.addWidget(self.language_label)
        toolbar.addWidget(self.language)
        spacer = QWidget()
        spacer.setMinimumWidth(16)
        toolbar.addWidget(spacer)
        toolbar.addWidget(self.db_label)
        self.addToolBar(toolbar)
        self.file_menu = self.menuBar().addMenu("")
        self.open_db_action = self.file_menu.addAction("", self.choose_db)
        self.quit_action = self.file_menu.addAction("", self.close)

        self.state.audit_opened.connect(lambda _a: self.show_page("findings"))
        self.state.language_changed.connect(lambda _l: self.retranslate())
        self.state.db_changed.connect(lambda _d: self.retranslate())
        self.nav.setCurrentRow(0)
        self.resize(1280, 760)
        self.retranslate()

    def retranslate(self) -> None:
        t = self.state.tr
        self.setWindowTitle(t("app.title"))
        for row, key in enumerate(PAGES):
            self.nav.item(row).setText(t(f"nav.{key}"))
        self.language_label.setText(t("language") + " ")
        self.db_label.setText(t("db.label", path=str(api.db_path(self.state.db))))
        self.file_menu.setTitle(t("menu.file"))
        self.open_db_action.setText(t("menu.open_db"))
        self.quit_action.setText(t("menu.quit"))

    def show_page(self, name: str) -> None:
        self.nav.setCurrentRow(PAGES.index(name))

    def set_language(self, lang: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_language_font(app, lang)
        if self.language.currentData() != lang:
            self.language.setCurrentIndex(self.language.findData(lang))
        self.state.set_language(lang)

    def choose_db(self) -> None:
        start = str(api.db_path(self.state.db).parent)
        path, _ = QFileDialog.getSaveFileName(self, self.state.tr("menu.open_db"), start, "SQLite (*.db);;All (*)",
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.state.set_db(path)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if self.new_audit.worker.running():
            self.new_audit.worker.cancel()
            if self.new_audit.worker.process is not None:
                self.new_audit.worker.process.waitForFinished(5000)
        super().closeEvent(event)

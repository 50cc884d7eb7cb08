"""The main window: a page list on the left, the pages in a stack, language and database in the toolbar.

Keyboard: menus File (Alt+F) and Go (Alt+G), language Alt+U; Ctrl+N new audit, Ctrl+O open database, Ctrl+Shift+O
connect to an audit service, Ctrl+M compare, Ctrl+E export, Ctrl+Q quit, Ctrl+1..7 the pages; Return on the page list
moves into the page. The queue page is listed only while connected to a service (gui/source.py).
Start-up: only the library is built before the window shows; the other pages are built when first shown,
when an audit is opened, or one per idle turn of the event loop after the window appears (their imports and
the template list cost about half of the start, issue 17 item 10).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QScrollArea,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from auditor import api
from gui import a11y
from gui.settings import Settings
from gui.state import AppState
from gui.theme import apply_language_font

NAV_WIDTH, NAV_NARROW = 170, 140     # the page list's width; narrower below 1200 px (200 % scaling)
PAGES = ("library", "new", "findings", "compare", "signoff", "export", "queue")
_CLASSES = {"library": ("gui.pages.library", "LibraryPage"), "new": ("gui.pages.new_audit", "NewAuditPage"),
            "findings": ("gui.pages.findings", "FindingsPage"), "compare": ("gui.pages.compare", "ComparePage"),
            "signoff": ("gui.pages.signoff", "SignOffPage"), "export": ("gui.pages.export", "ExportPage"),
            "queue": ("gui.pages.queue", "QueuePage")}
# the pages that show the open audit: built before audit_opened is emitted, so each of them hears it
_AUDIT_PAGES = ("findings", "compare", "signoff", "export")
# (action, catalogue key, shortcut): the File menu
_FILE = (("new_audit", "gui.window.action.new_audit", "Ctrl+N"), ("open_db", "gui.window.action.open_db", "Ctrl+O"),
         ("connect", "gui_service.menu.connect", "Ctrl+Shift+O"),
         ("compare", "gui.window.action.compare", "Ctrl+M"), ("export", "gui.window.action.export", "Ctrl+E"),
         ("quit", "gui.window.action.quit", "Ctrl+Q"))


class _WindowState(AppState):
    """AppState whose open_audit first builds the pages that show an audit (they connect audit_opened
    when built; a page built during the emission would miss it)."""

    before_open: Callable[[], None] | None = None

    def open_audit(self, audit_id: str) -> None:
        if self.before_open is not None:
            self.before_open()
        super().open_audit(audit_id)


class _PageStack(QStackedWidget):
    """A stack as large as the page shown needs: QStackedWidget takes the largest of all its pages, which in
    the scroll area would make every page scroll as far as the tallest one."""

    def __init__(self) -> None:
        super().__init__()
        self.currentChanged.connect(lambda _i: self.updateGeometry())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        page = self.currentWidget()
        return page.minimumSizeHint().expandedTo(page.minimumSize()) if page is not None else QSize(0, 0)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return self.minimumSizeHint()

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt name)
        """The least height the page needs at `width` (wrapped labels grow as the page narrows): the page takes
        the viewport's height and scrolls below this, instead of clipping its labels."""
        page, least = self.currentWidget(), self.minimumSizeHint().height()
        layout = page.layout() if page is not None else None
        if layout is not None and layout.hasHeightForWidth():
            least = max(least, layout.minimumHeightForWidth(width))
        return least


def _page(name: str) -> property:
    return property(lambda self: self.page(name), doc=f"The {name} page (built on first use).")


class MainWindow(QMainWindow):
    library = _page("library")
    new_audit = _page("new")
    findings = _page("findings")
    compare = _page("compare")
    signoff = _page("signoff")
    export = _page("export")
    queue = _page("queue")

    def __init__(self, db: str | None = None, settings: Settings | None = None) -> None:
        super().__init__()
        self.state: AppState = _WindowState(settings or Settings(), db)
        self.state.before_open = lambda: [self.page(name) for name in _AUDIT_PAGES]
        self._pages: dict[str, QWidget] = {}
        self.stack = _PageStack()
        for _name in PAGES:
            self.stack.addWidget(QWidget())          # placeholders until each page is built
        self._build_nav_and_toolbar()
        self._build_menus()
        # one deferred pass of the keyboard safety net after pages change (pages add widgets when they load)
        self._a11y_timer = self._single_shot(lambda: a11y.apply(self))
        # the first page after the window has painted; then one page per turn of the event loop
        self._idle_builder = self._single_shot(self._build_next, 150)
        self.stack.currentChanged.connect(lambda _i: self._a11y_timer.start())
        self.state.audit_opened.connect(lambda _a: self.show_page("findings"))
        self.state.audit_changed.connect(lambda _a: self._a11y_timer.start())
        self.state.language_changed.connect(lambda _l: self.retranslate())
        self.state.db_changed.connect(lambda _d: self.retranslate())
        self.nav.setCurrentRow(0)
        self.resize(1280, 760)
        self.retranslate()
        self.service_line.reconnect_on_start()      # the service it was last on, off the UI thread

    def _single_shot(self, slot: Callable[[], object], ms: int = 0) -> QTimer:
        timer = QTimer(self)                          # owned by the window: never fires after it is gone
        timer.setSingleShot(True)
        timer.setInterval(ms)
        timer.timeout.connect(slot)
        return timer

    def _build_nav_and_toolbar(self) -> None:
        self.nav = QListWidget()
        self.nav.addItems(["" for _ in PAGES])
        self.nav.currentRowChanged.connect(self._on_row)
        self.nav.itemActivated.connect(lambda _item: self.focus_page())
        self.nav.setTabKeyNavigation(False)
        self.nav.setFixedWidth(NAV_WIDTH)
        self.nav.setStyleSheet("QListWidget {font-size: 11pt;} QListWidget::item {padding: 8px 6px;}")
        body = QWidget()
        row = QHBoxLayout(body)
        row.setContentsMargins(4, 4, 4, 4)
        row.addWidget(self.nav)
        # at 200 % scaling (960x540 logical on a 1920x1080 screen) the tallest page does not fit: the pages
        # scroll vertically instead of the window growing past the screen's edge
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.stack)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        from gui.service_status import ServiceLine

        self.service_line = ServiceLine(self.state, self.choose_db)   # the service unreachable, reconnecting
        column = QVBoxLayout()
        column.addWidget(self.service_line)
        column.addWidget(self.scroll, 1)
        row.addLayout(column, 1)
        self.setCentralWidget(body)
        self.language = QComboBox()
        self.language.addItem("English", "en")
        self.language.addItem("日本語", "ja")
        self.language.setCurrentIndex(self.language.findData(self.state.lang))
        self.language.currentIndexChanged.connect(lambda _i: self.set_language(self.language.currentData()))
        self.language_label = QLabel()
        self.language_label.setBuddy(self.language)   # Alt+U focuses the chooser
        self.db_label = QLabel()
        self.db_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        toolbar = QToolBar()
        toolbar.setMovable(False)
        toolbar.addWidget(self.language_label)
        toolbar.addWidget(self.language)
        spacer = QWidget()
        spacer.setMinimumWidth(16)
        toolbar.addWidget(spacer)
        toolbar.addWidget(self.db_label)
        self.addToolBar(toolbar)

    def _build_menus(self) -> None:
        self.file_menu = self.menuBar().addMenu("")
        slots = {"new_audit": lambda: self.show_page("new", focus=True), "open_db": self.choose_db,
                 "connect": self.connect_service,
                 "compare": lambda: self.show_page("compare", focus=True),
                 "export": lambda: self.show_page("export", focus=True), "quit": self.close}
        self.actions_by_name: dict[str, QAction] = {}
        for name, _key, shortcut in _FILE:
            if name in ("compare", "quit"):
                self.file_menu.addSeparator()
            action = self.file_menu.addAction("", slots[name])
            action.setShortcut(QKeySequence(shortcut))
            self.actions_by_name[name] = action
        self.open_db_action, self.quit_action = self.actions_by_name["open_db"], self.actions_by_name["quit"]
        self.go_menu = self.menuBar().addMenu("")
        self.page_actions: list[QAction] = []
        for number, name in enumerate(PAGES, start=1):
            action = self.go_menu.addAction("", lambda name=name: self.show_page(name, focus=True))
            action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            self.page_actions.append(action)

    def retranslate(self) -> None:
        t = self.state.tr
        source = self.state.source
        where = t("gui_service.where.local", path=source.where()) if source.local else t(
            "gui_service.where.service", url=source.url, name=source.name or "?", role=t(f"s.role.{source.role}"))
        self.setWindowTitle(f"{t('app.title')} — {where}")
        for row, key in enumerate(PAGES):
            prefix = "gui_service." if key == "queue" else ""
            self.nav.item(row).setText(t(f"{prefix}nav.{key}"))
            self.page_actions[row].setText(t(f"{prefix}go.{key}" if prefix else f"gui.window.go.{key}"))
        self.nav.item(PAGES.index("queue")).setHidden(source.local)     # the queue is a service's
        self.nav.setAccessibleName(t("gui.window.nav.name"))
        self.nav.setAccessibleDescription(t("gui.window.nav.description"))
        self.language_label.setText(t("gui.window.language.label") + " ")
        self.language.setAccessibleName(t("gui.window.language.name"))
        self.language.setAccessibleDescription(t("gui.window.language.description"))
        self.db_label.setText(t("db.label", path=str(api.db_path(self.state.db))) if source.local else where)
        self.db_label.setAccessibleName(t("gui.window.database.name") if source.local else t("gui_service.where.name"))
        self.file_menu.setTitle(t("gui.window.menu.file"))
        self.go_menu.setTitle(t("gui.window.menu.go"))
        for name, key, _shortcut in _FILE:
            self.actions_by_name[name].setText(t(key))
        self._a11y_timer.start()

    def page(self, name: str) -> QWidget:
        """The page `name`, built now if it was not yet (its module is imported on first use)."""
        if name not in self._pages:
            module, cls = _CLASSES[name]
            page = getattr(importlib.import_module(module), cls)(self.state)
            index = PAGES.index(name)
            placeholder = self.stack.widget(index)
            self.stack.insertWidget(index, page)
            self.stack.removeWidget(placeholder)
            placeholder.deleteLater()
            self._pages[name] = page
            self._a11y_timer.start()
        return self._pages[name]

    def _on_row(self, row: int) -> None:
        if 0 <= row < len(PAGES):
            self.page(PAGES[row])
            self.stack.setCurrentIndex(row)

    def _build_next(self) -> None:
        """Builds one page not built yet, then yields to the event loop before the next."""
        missing = [name for name in PAGES if name not in self._pages]
        if missing:
            self.page(missing[0])
            self._idle_builder.start(0)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self.nav.setFixedWidth(NAV_WIDTH if self.width() >= 1200 else NAV_NARROW)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if len(self._pages) < len(PAGES) and not self._idle_builder.isActive():
            self._idle_builder.start(150)

    def show_page(self, name: str, focus: bool = False) -> None:
        self.nav.setCurrentRow(PAGES.index(name))
        if focus:
            self.focus_page()

    def focus_page(self) -> None:
        """Keyboard focus to the first control of the page shown (Return on the page list)."""
        a11y.apply(self.stack.currentWidget())
        target = a11y.first_focusable(self.stack.currentWidget())
        if target is not None:
            target.setFocus(Qt.FocusReason.TabFocusReason)

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

    def connect_service(self) -> None:
        """File → Connect to audit service…: the dialog checks the address and token, then the window reads
        from the service (a refused attempt changes nothing)."""
        from gui.connect_dialog import ConnectDialog

        dialog = ConnectDialog(self.state, self)
        if dialog.exec() and dialog.source is not None:
            self.state.set_source(dialog.source)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        new_audit = self._pages.get("new")       # never built: no audit can be running
        # a local run dies with the window; a job on the service runs on (the queue shows it next time)
        if new_audit is not None and new_audit.worker.local.running():
            new_audit.worker.local.cancel()
            if new_audit.worker.process is not None:
                new_audit.worker.process.waitForFinished(5000)
        super().closeEvent(event)

"""The desktop client in service mode (issue 18): the real window connected to a real `auditor serve` on a free
loopback port. The library lists the service's audits and opens one; New audit submits a job whose queue row
reaches completed with progress in between; the queue cancels a queued job; a bad token or a server that is
not there is one sentence; the token is remembered only when ticked, in a file only the user can read.

The server (tests/integration/test_service_http.Server) runs in its own process group and is stopped in
`finally`; every wait is bounded.
"""
from __future__ import annotations

import json
import os
import stat

import pytest
from PySide6.QtCore import QTimer

from gui import a11y
from tests.integration.test_service_http import PASS, Server, free_port, jcall

pytestmark = pytest.mark.slow

AUDIT_MS = 240_000        # a tiny-BERT audit ends within this


@pytest.fixture(scope="module")
def service(tmp_path_factory, tiny_bert):
    """A served database with a preparer's token, and the quick template without its minimum."""
    root = tmp_path_factory.mktemp("gui-service")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITOR_IDENTITY_DIR", str(root / "ids"))
        for name in ("AUDITOR_DB", "AUDITOR_SERVER", "AUDITOR_TOKEN", "AUDITOR_PASSPHRASE"):
            mp.delenv(name, raising=False)
        from auditor import api
        from auditor.identity import create_identity
        from auditor.service.tokens import create_token
        from tests.fixtures.templates import no_minimum

        create_identity("P. Preparer", "preparer", passphrase=PASS)
        db = root / "audits.db"
        api.create_database(str(db))
        token = create_token(str(db), "P. Preparer")[1]
        server = Server(db, root, "--workers", "1")
        try:
            server.wait_ready()
            yield {"url": server.url, "token": token, "db": db, "model": str(tiny_bert),
                   "quick": no_minimum("quick"), "standard": no_minimum("standard")}
        finally:
            server.stop()


def _connect(window, qtbot, url: str, token: str, remember: bool = False) -> None:
    """File → Connect to audit service… driven as a user does: the modal dialog is filled and Connect pressed."""
    from gui.connect_dialog import ConnectDialog

    seen = []

    def fill() -> None:
        dialog = next(w for w in window.findChildren(ConnectDialog) if w.isVisible())
        seen.append(dialog)
        dialog.url.setText(url)
        dialog.token.setText(token)
        dialog.remember.setChecked(remember)
        dialog.connect_button.click()
        QTimer.singleShot(20_000, dialog.reject)          # bounded: a hung check never hangs the test
    QTimer.singleShot(50, fill)
    window.actions_by_name["connect"].trigger()
    assert seen and seen[0].source is not None, seen and seen[0].message.text()


def test_connect_library_submit_queue_and_findings(make_window, qtbot, service, tmp_path):
    window = make_window(tmp_path / "local.db")
    _connect(window, qtbot, service["url"], service["token"])
    source = window.state.source
    assert not source.local and source.url == service["url"]
    assert f"Service: {service['url']} (signed in as P. Preparer, Preparer)" in window.windowTitle()
    assert window.db_label.text().startswith(f"Service: {service['url']}")
    assert not window.nav.item(6).isHidden()                                  # the queue is listed

    window.show_page("new")
    page = window.new_audit
    assert page.server_note.isVisible() and "on the server's disk" in page.server_note.text()
    qtbot.waitUntil(lambda: page.template.count() > 0, timeout=20000)
    quick = page.template.findData("quick")
    page.template.setCurrentIndex(quick)
    page.template.setItemData(quick, service["quick"])        # the server reads the template at this path
    page.limit.setValue(12)
    page.set_model(service["model"])
    assert page.run_button.isEnabled(), page.run_button.toolTip()
    fractions: list[float] = []
    page.worker.event.connect(lambda e: fractions.append(float(e.get("fraction") or 0)))
    window.show_page("queue")
    queue = window.queue
    seen_rows: list[tuple[str, str]] = []
    watcher = QTimer(interval=50, timeout=lambda: [seen_rows.append((j["status"], queue.fraction_and_phase(j)[1]))
                                                    for j in queue.jobs])
    watcher.start()
    with qtbot.waitSignal(page.worker.finished, timeout=AUDIT_MS) as finished:
        page.start()
    audit_id = finished.args[0]
    qtbot.waitUntil(lambda: any(j["status"] == "completed" for j in queue.jobs), timeout=10000)
    watcher.stop()
    assert page.panel.mode == "completed" and audit_id
    assert fractions and 0 < max(fractions) <= 1 and len(set(fractions)) > 1        # progress in between
    assert ("queued", "waiting for a worker") in seen_rows or any(s == "running" for s, _ in seen_rows)
    assert any(s == "running" and phase for s, phase in seen_rows), seen_rows[-5:]   # a step while it ran
    row = next(r for r in range(queue.table.rowCount()) if queue.table.item(r, 1).text() == "Completed")
    assert queue.table.item(row, 2).text() and queue.table.item(row, 3).text() == "P. Preparer"
    assert queue.table.item(row, 5).text() == "100% done"

    window.show_page("library")
    library = window.library
    qtbot.waitUntil(lambda: [a["audit_id"] for a in library.audits] == [audit_id], timeout=5000)   # re-read by itself
    assert library.evidence_of(audit_id).line("en").endswith("not verified here: run `auditor verify` on the server")
    queue.select(next(j["id"] for j in queue.jobs if j["audit_id"] == audit_id))
    assert queue.open_button.isEnabled() and not queue.cancel_button.isEnabled()
    queue.open_button.click()
    findings = window.findings
    assert window.state.audit_id == audit_id and findings.view is not None
    assert findings.view.audit_id == audit_id and findings.view.checks            # the service's show --json
    assert findings.view.fingerprint == jcall("GET", f"{service['url']}/v1/audits/{audit_id}",
                                              service["token"])[1]["fingerprint"]

    window.state.set_db(str(tmp_path / "local.db"))                              # back to the local database
    assert window.state.source.local and window.nav.item(6).isHidden()
    assert window.library.audits == []


def test_cancel_a_queued_job_from_the_queue(make_window, qtbot, service, tmp_path):
    url, token = service["url"], service["token"]
    slow = {"model": service["model"], "template": service["standard"], "batch_size": 1, "name": "slow"}
    running = jcall("POST", f"{url}/v1/audits", token, slow)[1]["id"]
    queued = jcall("POST", f"{url}/v1/audits", token, {**slow, "name": "waiting"})[1]["id"]
    try:
        window = make_window(tmp_path / "local.db")
        window.set_language("ja")
        _connect(window, qtbot, url, token)
        window.show_page("queue")
        queue = window.queue
        qtbot.waitUntil(lambda: any(j["id"] == queued for j in queue.jobs), timeout=10000)
        queue.select(queued)
        assert queue.selected_job()["status"] == "queued" and queue.cancel_button.isEnabled()
        window.activateWindow()
        qtbot.wait(30)
        assert a11y.problems(window) == [] and a11y.mnemonic_clashes(window) == []      # names, tab order
        window.resize(960, 540)                                                          # 200 % scaling
        qtbot.wait(30)
        assert a11y.clipped(window, 960, 540) == []
        assert queue.open_button.isEnabled() is False
        queue.cancel_button.click()
        qtbot.waitUntil(lambda: f"ジョブ {queued} の中止を要求しました。" == queue.message.text(), timeout=10000)
        qtbot.waitUntil(lambda: next(j for j in queue.jobs if j["id"] == queued)["status"] == "cancelled",
                        timeout=10000)
        row = next(r for r in range(queue.table.rowCount()) if queue.table.item(r, 0).text() == queued)
        assert queue.table.item(row, 1).text() == "中止"
        assert jcall("GET", f"{url}/v1/jobs/{queued}", token)[1]["status"] == "cancelled"
    finally:
        for job in (queued, running):
            jcall("POST", f"{url}/v1/audits/{job}/cancel", token)


def test_a_bad_token_or_no_server_is_one_sentence_and_changes_nothing(qtbot, service, tmp_path):
    from gui.connect_dialog import ConnectDialog
    from gui.settings import Settings
    from gui.state import AppState

    state = AppState(Settings(str(tmp_path / "settings.ini")), str(tmp_path / "local.db"))
    cases = ((service["url"], "not-a-token", "en",
              f"The service at {service['url']} refused this token (401): check it, or ask for a new one "
              "(`auditor token create`)."),
             (f"http://127.0.0.1:{free_port()}", service["token"], "en",
              "Cannot reach the audit service at http://127.0.0.1:"),
             (service["url"], "not-a-token", "ja", "のサービスがこのトークンを拒否しました（401）。"),
             ("ftp://example", service["token"], "en", "ftp://example is not a service address"))
    for url, token, lang, said in cases:
        state.lang = lang
        dialog = ConnectDialog(state)
        qtbot.addWidget(dialog)
        dialog.url.setText(url)
        dialog.token.setText(token)
        dialog.show()
        assert a11y.problems(dialog) == []
        dialog.try_connect()
        qtbot.waitUntil(lambda d=dialog: d.sentence is not None, timeout=20000)
        assert said in dialog.message.text() and "\n" not in dialog.message.text(), dialog.message.text()
        assert dialog.source is None and dialog.result() == 0 and dialog.connect_button.isEnabled()
        assert token not in dialog.message.text()
    assert state.source.local                                # nothing switched


def test_the_token_is_remembered_only_when_ticked_and_only_for_the_user(qtbot, service, tmp_path):
    from gui.connect_dialog import ConnectDialog, token_path
    from gui.settings import Settings
    from gui.state import AppState

    settings_file = tmp_path / "settings.ini"
    state = AppState(Settings(str(settings_file)), str(tmp_path / "local.db"))
    kept = token_path(state.settings)

    def connect(remember: bool) -> ConnectDialog:
        dialog = ConnectDialog(state)
        qtbot.addWidget(dialog)
        dialog.url.setText(service["url"] + "/")
        dialog.token.setText(service["token"])
        dialog.remember.setChecked(remember)
        dialog.try_connect()
        qtbot.waitUntil(lambda: dialog.result() == 1 or dialog.sentence is not None, timeout=20000)
        assert dialog.source is not None, dialog.message.text()
        return dialog

    connect(remember=False)
    assert not kept.exists()
    again = ConnectDialog(state)
    qtbot.addWidget(again)
    assert again.url.text() == service["url"] and again.token.text() == "" and not again.remember.isChecked()

    connect(remember=True)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert json.loads(kept.read_text()) == {"url": service["url"], "token": service["token"]}
    assert service["token"] not in settings_file.read_text()
    again = ConnectDialog(state)
    qtbot.addWidget(again)
    assert again.token.text() == service["token"] and again.remember.isChecked()

    os.chmod(kept, 0o644)                                   # readable by others: not trusted
    again = ConnectDialog(state)
    qtbot.addWidget(again)
    assert again.token.text() == ""
    connect(remember=False)                                  # unticked: forgotten
    assert not kept.exists()


# ---- server templates, reconnect on start, a service that stops answering, signed reports (issue 18) ------------

def _own_server(root, token_for: str = "P. Preparer"):
    """A second served database (empty) that a test may stop; the caller stops it in `finally`."""
    from auditor import api
    from auditor.service.tokens import create_token

    root.mkdir(parents=True, exist_ok=True)
    db = root / "own.db"
    api.create_database(str(db))
    token = create_token(str(db), token_for)[1]
    server = Server(db, root, "--workers", "1")
    return server, token


def _remembered(settings_file, url: str, token: str) -> None:
    """Settings as a window left them that was last on the service at `url` with its token remembered."""
    from gui.connect_dialog import URL_KEY, remember_token
    from gui.settings import Settings
    from gui.state import LAST_KEY

    settings = Settings(str(settings_file))
    settings.set(URL_KEY, url)
    settings.set(LAST_KEY, "service")
    remember_token(settings, url, token)


def test_new_audit_lists_the_servers_templates_and_no_estimate(make_window, qtbot, service, tmp_path, monkeypatch):
    import gui.source

    monkeypatch.setattr(gui.source.api, "list_templates", lambda: [])     # this computer's copy: not what is shown
    served = jcall("GET", f"{service['url']}/v1/templates", service["token"])[1]
    window = make_window(tmp_path / "local.db")
    _connect(window, qtbot, service["url"], service["token"])
    window.show_page("new")
    page = window.new_audit
    qtbot.waitUntil(lambda: page.template.count() == len(served["templates"]), timeout=20000)
    assert [page.template.itemData(i) for i in range(page.template.count())] == \
        [t["name"] for t in served["templates"]]
    assert page.template.currentData() == served["default"]
    quick = next(t for t in served["templates"] if t["name"] == "quick")
    page.template.setCurrentIndex(page.template.findData("quick"))
    assert page.template_text.text().startswith(quick["description"]["en"])
    assert page.not_approval.isVisible() is (not quick["approval_grade"])
    assert page.estimate_label.text() == ("No time estimate is available for an audit run by the service until "
                                          "it starts; the Queue page then shows its progress.")
    window.set_language("ja")
    assert page.template_text.text().startswith(quick["description"]["ja"])
    assert page.estimate_label.text().startswith("サービスで実行する監査の所要時間は、開始するまで見積もれません。")


def test_an_empty_service_then_a_stopped_one_and_the_next_start(make_window, qtbot, service, tmp_path):
    server, token = _own_server(tmp_path / "own")
    url = server.url
    try:
        server.wait_ready()
        window = make_window(tmp_path / "local.db")
        _connect(window, qtbot, url, token, remember=True)
        library = window.library
        window.show_page("library")
        said = f"The audit service at {url} holds no audits yet."
        qtbot.waitUntil(lambda: said in library.empty.text(), timeout=10000)
        assert "This database" not in library.empty.text()
        window.set_language("ja")
        assert f"{url} の監査サービスにはまだ監査がありません。" in library.empty.text()
        window.set_language("en")
        server.stop()                                           # the service goes away while the page is shown
        library.refresh()
        down = f"The audit service at {url} cannot be reached: what is shown may be out of date until it answers again."
        qtbot.waitUntil(lambda: library.status.text() == down, timeout=10000)
        assert down in library.empty.text()
        qtbot.waitUntil(lambda: window.service_line.isVisible(), timeout=5000)
        assert window.service_line.banner.lines == [down]
        for name in ("findings", "compare", "signoff", "export"):       # each page read again: no traceback
            window.show_page(name)
        window.state.changed("")
        qtbot.wait(200)
        window.close()

        again = make_window(tmp_path / "local2.db")            # the next start: the service is not there
        said = (f"The audit service at {url} cannot be reached, so the window shows the local database "
                f"{tmp_path / 'local2.db'}.")
        qtbot.waitUntil(lambda: again.service_line.banner.lines == [said], timeout=20000)
        assert again.state.source.local and again.stack.currentWidget() is again.library
        assert again.service_line.retry_button.isVisible() and again.service_line.local_button.isVisible()
        assert a11y.problems(again) == []
        again.set_language("ja")
        assert again.service_line.banner.lines[0].startswith(f"{url} の監査サービスに接続できないため、")
    finally:
        server.stop()


def test_reconnect_on_start_and_the_longest_stall_under_a_running_audit(make_window, qtbot, service, tmp_path):
    import time

    url, token = service["url"], service["token"]
    _remembered(tmp_path / "settings.ini", url, token)
    window = make_window(tmp_path / "local.db")
    qtbot.waitUntil(lambda: not window.state.source.local, timeout=20000)
    assert window.state.source.url == url and "signed in as P. Preparer" in window.windowTitle()
    assert not window.service_line.isVisible()
    slow = {"model": service["model"], "template": service["standard"], "batch_size": 1, "name": "stall"}
    job = jcall("POST", f"{url}/v1/audits", token, slow)[1]["id"]
    try:
        qtbot.waitUntil(lambda: jcall("GET", f"{url}/v1/jobs/{job}", token)[1]["status"] == "running", timeout=60000)
        gaps, last = [], [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now
        ticker = QTimer(interval=10, timeout=tick)
        ticker.start()
        end = time.monotonic() + 6
        while time.monotonic() < end:                  # the pages read from the service while the audit runs
            for name in ("library", "queue", "library"):
                window.show_page(name)
                window.library.refresh()
                qtbot.wait(150)
        ticker.stop()
        longest = max(gaps) * 1000
        print(f"longest UI stall with the service under a running audit: {longest:.0f} ms over {len(gaps)} ticks")
        assert longest < 1000, longest
    finally:
        jcall("POST", f"{url}/v1/audits/{job}/cancel", token)


@pytest.mark.skipif(not __import__("shutil").which("pdfsig"), reason="poppler's pdfsig is missing")
def test_export_signs_a_report_through_the_service(make_window, qtbot, service, tmp_path, monkeypatch):
    import subprocess

    from gui import dialogs
    from tests.conftest import run_cli

    done = run_cli("audit", service["model"], "--template", service["quick"], "--limit", "12", "--seed", "5",
                   "--json", db=service["db"])
    assert done.returncode in (0, 1), done.stderr[-2000:]
    audit_id = json.loads(done.stdout)["audit_id"]
    asked = []
    monkeypatch.setattr(dialogs, "passphrase", lambda _p, _t, label: asked.append(label) or PASS)
    window = make_window(tmp_path / "local.db")
    _connect(window, qtbot, service["url"], service["token"])
    window.state.open_audit(audit_id)
    window.show_page("export")
    page = window.export
    assert page.sign_button.isVisible() and page.sign_button.isEnabled()
    out = tmp_path / "reports" / "signed.pdf"
    page.signed.sign_to(out)
    qtbot.waitUntil(lambda: not page.signed.busy, timeout=120000)
    said = page.signed.result.text()
    assert asked and "P. Preparer" in asked[0]
    assert said.startswith(f"Signed report saved: {out}, signed by P. Preparer (") and "PDF SHA-256 " in said, said
    import hashlib

    assert said.endswith(f"PDF SHA-256 {hashlib.sha256(out.read_bytes()).hexdigest()}.")
    sig = subprocess.run(["pdfsig", "-nocert", str(out)], capture_output=True, text=True, timeout=60).stdout
    assert "Signature is Valid." in sig and "CN=P. Preparer" in sig, sig
    reported = jcall("GET", f"{service['url']}/v1/audits/{audit_id}", service["token"])[1]
    assert any(e.get("kind") == "reported" for e in reported.get("events") or reported.get("history") or []), \
        list(reported)

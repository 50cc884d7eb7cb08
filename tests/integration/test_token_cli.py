"""`auditor token create|revoke|list` and the `auditor serve` flags through the installed command: the token
shown once, never listed, refusals as one line with exit 2 (identities in a temporary folder)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli

PASS = "correct horse battery"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("token-cli")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITOR_IDENTITY_DIR", str(root / "ids"))
        mp.delenv("AUDITOR_DB", raising=False)
        mp.delenv("AUDITOR_SERVER", raising=False)
        mp.delenv("AUDITOR_TOKEN", raising=False)
        from auditor.identity import create_identity

        create_identity("A. Tanaka", "approver", passphrase=PASS)
        create_identity("R. Revoked", "reviewer", passphrase=PASS)
        yield root


def _cli(*args: str, check: int | None = 0):
    result = run_cli(*args)
    if check is not None:
        assert result.returncode == check, (result.returncode, result.stdout, result.stderr)
    return result


def _one_line_refusal(result, starts: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"auditor: {starts}"), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_create_list_revoke(home):
    db = str(home / "audits.db")
    created = _cli("token", "create", "A. Tanaka", "--db", db)
    token = created.stdout.strip()
    assert created.stdout.count("\n") == 1 and token.startswith("aud_T-")        # the token alone on stdout
    token_id = token.split("_")[1]
    assert created.stderr.splitlines() == [f"Created API token {token_id} for A. Tanaka (approver) in {db}.",
                                           "Store it now: it is not shown again."]
    secret = token.split("_", 2)[2]
    listed = _cli("token", "list", "--db", db, "--json")
    assert token_id in listed.stdout and secret not in listed.stdout + listed.stderr
    rows = json.loads(listed.stdout)["tokens"]
    assert [(r["id"], r["identity"], r["role"], r["state"]) for r in rows] == [(token_id, "A. Tanaka", "approver",
                                                                                "active")]
    assert "token" not in rows[0] and "hash" not in rows[0] and "salt" not in rows[0]
    assert secret.encode() not in b"".join(p.read_bytes() for p in home.glob("audits.db*"))

    revoked = _cli("token", "revoke", token_id, "--db", db)
    assert revoked.stdout == f"Revoked API token {token_id} in {db}: it authenticates nothing from now on.\n"
    again = _cli("token", "revoke", token_id, "--db", db)
    assert again.stdout == f"API token {token_id} was already revoked; nothing changed.\n"
    listed = _cli("token", "list", "--db", db)
    assert listed.stdout.splitlines()[0].split()[:2] == ["TOKEN", "ID"]
    assert listed.stdout.splitlines()[1].split()[-1] == "revoked" and secret not in listed.stdout
    from auditor.service.tokens import authenticate

    assert authenticate(db, token) is None


def _main(capsys, *argv: str) -> tuple[int, str, str]:
    """`auditor ARGV` in this process (the refusals need no fresh interpreter): exit code, stdout, stderr."""
    from auditor import cli

    try:
        code = cli.main(list(argv))
    except SystemExit as stop:          # argparse's usage errors
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _refused(outcome: tuple[int, str, str], line: str) -> None:
    code, out, err = outcome
    assert (code, out, err) == (2, "", f"auditor: {line}\n"), outcome


def test_create_json_and_refusals(home, capsys):
    db = str(home / "refusals.db")
    code, out, err = _main(capsys, "token", "create", "A. Tanaka", "--db", db, "--json")
    data = json.loads(out)
    assert code == 0 and err == "Store it now: it is not shown again.\n"
    assert set(data) == {"id", "identity", "role", "token", "db"} and data["token"].startswith(f"aud_{data['id']}_")
    folder = home / "ids"
    _refused(_main(capsys, "token", "create", "Nobody", "--db", db),
             f"no identity named Nobody in {folder}; `auditor identity list` shows the identities")
    assert _main(capsys, "identity", "revoke", "R. Revoked", "--db", db)[0] == 0
    code, out, err = _main(capsys, "token", "create", "R. Revoked", "--db", db)
    assert (code, out) == (2, "") and re.fullmatch(r"auditor: identity R\. Revoked was revoked \(event \d+\); "
                                                   r"it can have no API token\n", err), err
    _refused(_main(capsys, "token", "revoke", "T-00000000", "--db", db),
             f"no API token T-00000000 in {db}; `auditor token list` shows the tokens")
    missing = str(home / "missing.db")
    for action in (("revoke", "T-00000000"), ("list",)):
        _refused(_main(capsys, "token", *action, "--db", missing), f"no audit database at {missing}; check --db or "
                 "AUDITOR_DB" + (" (a read command never creates one)" if action == ("list",) else
                                 " (only an audit creates one)"))
    assert not Path(missing).exists()
    _refused(_main(capsys, "token", "create"), "the following arguments are required: IDENTITY "
             "(see `auditor token create --help`)")


def test_serve_flags(home, capsys):
    cert = home / "cert.pem"
    cert.write_text("x")
    for args, line in ((("--port", "0"), "--port 0: give a port from 1 to 65535"),
                       (("--port", "70000"), "--port 70000: give a port from 1 to 65535"),
                       (("--workers", "0"), "--workers 0: give at least 1 worker"),
                       (("--tls-cert", str(cert)), "--tls-cert and --tls-key go together: give both, or neither"),
                       (("--tls-cert", str(cert), "--tls-key", str(home / "nokey.pem")),
                        f"--tls-key {home / 'nokey.pem'}: no such file"),
                       (("--port", "x"), "argument --port: invalid int value: 'x' (see `auditor serve --help`)")):
        _refused(_main(capsys, "serve", *args), line)

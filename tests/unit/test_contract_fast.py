"""The CLI contract without a model run: commands, flags, choices, statuses and exit codes.

Scripts and the GUI rely on these (docs: docs/ARCHITECTURE.md, "CLI contract"; the full check with a
real MiniLM audit is ../shared/tools/check_contract.py). Additions are fine; renaming or removing
anything listed here fails this test. Everything runs in-process and takes about a second.
"""
from __future__ import annotations

import argparse

import pytest

from auditor import cli
from auditor.errors import AuditFailed, AuditorError, BadInput, Cancelled
from auditor.status import VERDICTS, Status, fails_gate

# command -> (positionals, flags); every flag listed must exist with this spelling
COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "audit": (("MODEL",), ("--probes", "--template", "--db", "--device", "--tokenizer", "--reference",
                           "--layer-outputs", "--limit", "--seed", "--batch-size", "--skip-bad-probes", "--meta",
                           "--name", "--model-version", "--purpose", "--preparer", "--users", "--out-of-scope",
                           "--decision-requested", "--json", "--progress", "--fail-on", "--identity")),
    "show": (("AUDIT_ID",), ("--db", "--json", "--junit")),
    "list": ((), ("--db", "--json")),
    "templates": ((), ("--json",)),
    "compare": (("AUDIT_A", "AUDIT_B"), ("--db", "--json", "--all")),
    "reevaluate": (("AUDIT_ID",), ("--template", "--db", "--actor", "--json", "--fail-on", "--identity")),
    "sign": (("AUDIT_ID",), ("--role", "--name", "--decision", "--db", "--json", "--identity")),
    "assign": (("AUDIT_ID", "FINDING_ID"), ("--owner", "--due", "--actor", "--db", "--json", "--identity")),
    "report": (("AUDIT_ID",), ("--out", "--kind", "--lang", "--db", "--draft", "--sign")),
    "verify-report": (("FILE.pdf",), ("--db",)),
    # issue 16: the signed record; AUDIT_ID is optional (none: every audit)
    "verify": (("AUDIT_ID",), ("--db", "--json", "--allow-unsigned", "--require-trust")),
    "identity": (("ACTION",), ()),
    "trust": (("ACTION",), ()),
    "demo": ((), ("--out", "--progress", "--device", "--limit", "--no-reports")),
}
# command -> its subcommands, each (positionals, flags), as COMMANDS (issue 16: identities and the trust store)
SUBCOMMANDS: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "identity": {"create": ((), ("--name", "--role", "--org", "--ca-cert", "--ca-key", "--json")),
                 "list": ((), ("--json",)),
                 "export-cert": (("NAME",), ("--out",)),
                 "revoke": (("NAME",), ("--by", "--db", "--json"))},
    "trust": {"add": (("CERT.pem",), ("--by", "--db", "--json"))},
}
# (command, flag) -> the values scripts pass; more values are fine
CHOICES = {
    ("audit", "--device"): {"auto", "cpu", "cuda"},
    ("audit", "--progress"): {"bar", "jsonl", "none"},
    ("audit", "--fail-on"): {"warn", "fail"},
    ("reevaluate", "--fail-on"): {"warn", "fail"},
    ("sign", "--role"): {"preparer", "reviewer", "approver"},
    ("report", "--kind"): {"board", "full"},
    ("report", "--lang"): {"en", "ja"},
    ("demo", "--progress"): {"bar", "jsonl", "none"},
    ("demo", "--device"): {"auto", "cpu", "cuda"},
    ("identity create", "--role"): {"preparer", "reviewer", "approver", "admin"},
}
REQUIRED = {("reevaluate", "--template"), ("sign", "--role"), ("sign", "--name"), ("report", "--out"),
            ("identity create", "--name"), ("identity create", "--role"), ("identity export-cert", "--out")}
# the words check_contract.py accepts in `--json` output
CHECK_STATUSES = {"pass", "warn", "fail", "inconclusive", "error", "skipped"}
FINDING_SEVERITIES = {"pass", "warn", "fail", "inconclusive", "error", "info"}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(a for a in parser._actions if flag in a.option_strings)


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as stop:
        cli.main([*argv, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def test_every_contract_command_exists():
    assert set(COMMANDS) <= set(_subparsers())


def _keeps(parser: argparse.ArgumentParser, command: str, positionals: tuple[str, ...], flags: tuple[str, ...]) -> None:
    """`command` (e.g. 'sign' or 'identity create') still has these positionals, flags, choices and required flags."""
    options = {o for a in parser._actions for o in a.option_strings}
    assert [f for f in flags if f not in options] == [], f"`auditor {command}` lost flags"
    assert tuple(a.metavar for a in parser._actions if not a.option_strings) == positionals
    for (name, flag), values in CHOICES.items():
        if name == command:
            assert values <= set(_option(parser, flag).choices), f"{command} {flag}"
    for name, flag in REQUIRED:
        if name == command:
            assert _option(parser, flag).required, f"{command} {flag} must stay required"


def _sub(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return dict(next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_keeps_its_arguments(command: str):
    _keeps(_subparsers()[command], command, *COMMANDS[command])


@pytest.mark.parametrize(("command", "action"), [(c, a) for c, subs in SUBCOMMANDS.items() for a in subs])
def test_subcommand_keeps_its_arguments(command: str, action: str):
    subs = _sub(_subparsers()[command])
    assert action in subs, f"`auditor {command} {action}` is gone"
    _keeps(subs[action], f"{command} {action}", *SUBCOMMANDS[command][action])


def test_verify_checks_every_audit_without_an_id():
    audit_id = next(a for a in _subparsers()["verify"]._actions if a.metavar == "AUDIT_ID")
    assert audit_id.nargs == "?" and not audit_id.required


def test_help_lists_every_command_and_flag(capsys):
    top = _help(capsys)
    assert [c for c in COMMANDS if c not in top] == []
    for command, (positionals, flags) in COMMANDS.items():
        text = _help(capsys, command)
        missing = [word for word in (*positionals, *flags) if word not in text]
        assert missing == [], f"`auditor {command} --help` does not mention {missing}"
    for command, subs in SUBCOMMANDS.items():
        text = _help(capsys, command)
        assert [a for a in subs if a not in text] == [], f"`auditor {command} --help` lost actions"
        for action, (positionals, flags) in subs.items():
            text = _help(capsys, command, action)
            missing = [word for word in (*positionals, *flags) if word not in text]
            assert missing == [], f"`auditor {command} {action} --help` does not mention {missing}"


def test_version_prints_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith("auditor ")


def test_status_vocabulary():
    words = {s.value for s in Status}
    assert CHECK_STATUSES <= words and FINDING_SEVERITIES <= words
    assert {v.value for v in VERDICTS} == {"pass", "warn", "inconclusive", "fail"}
    assert all(str(s) == s.value and f"{s}" == s.value for s in Status)   # plain words in JSON and text
    # the order a gate relies on: pass < warn < error < inconclusive < fail
    ranks = [s.rank for s in (Status.PASS, Status.WARN, Status.ERROR, Status.INCONCLUSIVE, Status.FAIL)]
    assert ranks == sorted(set(ranks))


def test_exit_code_constants():
    assert BadInput.exit_code == 2
    assert AuditFailed.exit_code == 3 and Cancelled.exit_code == 3 and AuditorError.exit_code == 3
    assert issubclass(BadInput, AuditorError) and issubclass(AuditFailed, AuditorError)


@pytest.mark.parametrize(("verdict", "fail_on", "stops"), [
    ("pass", "warn", False), ("warn", "warn", True), ("inconclusive", "warn", True), ("fail", "warn", True),
    ("warn", "fail", False), ("inconclusive", "fail", True), ("fail", "fail", True), (None, "fail", True),
    ("fail", None, False),
])
def test_fail_on_gate_is_exit_code_one(verdict, fail_on, stops):
    assert fails_gate(verdict, fail_on) is stops
    assert cli.matches_fail_on(verdict, fail_on) is stops


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("argv", [["audit"], ["audit", "m", "--no-such-flag"], ["report", "x"],
                                  ["audit", "m", "--progress", "loud"], ["no-such-command"]])
def test_usage_errors_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 2
    assert _one_line(capsys).startswith("auditor: ")


def test_no_command_exits_2(capsys):
    assert cli.main([]) == 2


def test_bad_model_inputs_exit_2_with_one_line(tmp_path, capsys):
    db = str(tmp_path / "contract.db")
    assert cli.main(["audit", str(tmp_path / "no-such-model"), "--probes", "builtin:text", "--db", db]) == 2
    assert _one_line(capsys).startswith("auditor: ")
    pickle = tmp_path / "weights.pt"
    pickle.write_bytes(b"\x80\x04K\x01.")
    assert cli.main(["audit", str(pickle), "--probes", "builtin:text", "--db", db]) == 2
    assert "pickle" in _one_line(capsys)

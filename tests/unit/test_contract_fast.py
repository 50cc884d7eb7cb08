"""The CLI contract without a model run: commands, flags, choices, statuses and exit codes.

Scripts and the GUI rely on these (docs: ARCHITECTURE.md, "CLI contract"; the full check with a
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
                           "--decision-requested", "--json", "--progress", "--fail-on")),
    "show": (("AUDIT_ID",), ("--db", "--json", "--junit")),
    "list": ((), ("--db", "--json")),
    "templates": ((), ("--json",)),
    "compare": (("AUDIT_A", "AUDIT_B"), ("--db", "--json", "--all")),
    "reevaluate": (("AUDIT_ID",), ("--template", "--db", "--actor", "--json", "--fail-on")),
    "sign": (("AUDIT_ID",), ("--role", "--name", "--decision", "--db", "--json")),
    "assign": (("AUDIT_ID", "FINDING_ID"), ("--owner", "--due", "--actor", "--db", "--json")),
    "report": (("AUDIT_ID",), ("--out", "--kind", "--lang", "--db", "--draft")),
    "verify-report": (("FILE.pdf",), ("--db",)),
    "demo": ((), ("--out", "--progress", "--device", "--limit", "--no-reports")),
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
}
REQUIRED = {("reevaluate", "--template"), ("sign", "--role"), ("sign", "--name"), ("report", "--out")}
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


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_keeps_its_arguments(command: str):
    parser = _subparsers()[command]
    positionals, flags = COMMANDS[command]
    options = {o for a in parser._actions for o in a.option_strings}
    assert [f for f in flags if f not in options] == [], f"`auditor {command}` lost flags"
    assert tuple(a.metavar for a in parser._actions if not a.option_strings) == positionals
    for (name, flag), values in CHOICES.items():
        if name == command:
            assert values <= set(_option(parser, flag).choices), f"{command} {flag}"
    for name, flag in REQUIRED:
        if name == command:
            assert _option(parser, flag).required, f"{command} {flag} must stay required"


def test_help_lists_every_command_and_flag(capsys):
    top = _help(capsys)
    assert [c for c in COMMANDS if c not in top] == []
    for command, (positionals, flags) in COMMANDS.items():
        text = _help(capsys, command)
        missing = [word for word in (*positionals, *flags) if word not in text]
        assert missing == [], f"`auditor {command} --help` does not mention {missing}"


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

"""The `auditor` command line: argument parsing and output only; the work is in auditor.api.

stdout carries results only (with --json exactly one JSON object); progress and messages go to
stderr. Exit codes: 0 success, 1 the verdict matched --fail-on, 2 bad input or usage (one line,
no traceback), 3 the audit failed while running.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

# the terminal's summary and list live in auditor.cli_format; other modules import them from here
from auditor.cli_format import SYMBOL, format_audit, print_audit_list  # noqa: F401
from auditor.errors import AuditorError, BadInput


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage problem as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"auditor: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    from auditor.environment import auditor_version

    parser = _Parser(prog="auditor", description="Offline governance audits of transformer models.")
    parser.add_argument("--version", action="version", version=f"auditor {auditor_version()}")
    parser.add_argument("--server", metavar="URL", help="run audit|list|show|report|sign|compare on an audit "
                                                        "service (`auditor serve`; default $AUDITOR_SERVER)")
    parser.add_argument("--token", metavar="T", help="the service's API token (default $AUDITOR_TOKEN)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    audit = sub.add_parser("audit", help="audit a model and store the results")
    audit.add_argument("model", metavar="MODEL", help="transformers folder (safetensors) or ONNX file/folder")
    _audit_options(audit)
    audit.add_argument("--probes", default="builtin:text", metavar="SPEC",
                       help="builtin:text, builtin:images, a .csv/.jsonl file, an image folder or a .npz file")
    audit.add_argument("--pairs", metavar="FILE",
                       help="counterfactual pairs (.csv/.jsonl: text_a, text_b, attribute) for "
                            "perturbation.counterfactual instead of the built-in pairs")

    show = sub.add_parser("show", help="show a stored audit")
    show.add_argument("audit_id", metavar="AUDIT_ID")
    show.add_argument("--db", metavar="PATH")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.add_argument("--junit", metavar="FILE", help="also write the findings as JUnit XML")

    listing = sub.add_parser("list", help="list stored audits")
    listing.add_argument("--db", metavar="PATH")
    listing.add_argument("--json", action="store_true")

    templates = sub.add_parser("templates", help="list the built-in audit templates")
    templates.add_argument("--json", action="store_true")

    from auditor import cli_governance

    cli_governance.add_parsers(sub)
    from auditor import cli_identity

    cli_identity.add_parsers(sub)
    from auditor import cli_verify

    cli_verify.add_parser(sub)
    from auditor import cli_service

    cli_service.add_parsers(sub)
    from auditor import batch

    batch.add_parser(sub)

    demo = sub.add_parser("demo", help="audit the bundled pretrained MiniLM on builtin:text")
    demo.add_argument("--out", metavar="DIR", help="keep the demo database and JSON in DIR")
    demo.add_argument("--progress", choices=("bar", "jsonl", "none"))
    demo.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    demo.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), default="auto")
    demo.add_argument("--limit", type=int, metavar="N")
    demo.add_argument("--no-reports", action="store_true", help="skip the board and full PDFs")
    return parser


def _audit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--template", metavar="NAME|PATH", help="built-in template name or a .yaml path (default standard)")
    p.add_argument("--db", metavar="PATH", help="database file (default: $AUDITOR_DB or the user data folder)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--tokenizer", metavar="PATH", help="tokenizer folder for a bare text ONNX file")
    p.add_argument("--reference", metavar="MODEL", help="the same model in another format (parity check)")
    p.add_argument("--layer-outputs", metavar="NAMES", help="comma-separated ONNX tensor names of layer boundaries 0..L")
    p.add_argument("--limit", type=int, metavar="N", help="a seeded, label-stratified sample of N probes")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--batch-size", type=batch_size_arg, default=16, metavar="B|auto",
                   help="probes per batch, or auto: the largest batch the memory plan fits (default 16)")
    p.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), default="auto",
                   help="precision the model runs in (auto: the checkpoint's own on CUDA, float32 on the CPU)")
    p.add_argument("--skip-bad-probes", action="store_true", help="skip unreadable probe entries (recorded)")
    p.add_argument("--meta", metavar="FILE.yaml", help="audit metadata: purpose, users, out_of_scope, ...")
    p.add_argument("--name", metavar="N", help="model name for the record (default: the folder or file name)")
    p.add_argument("--model-version", metavar="V")
    p.add_argument("--purpose", metavar="TEXT")
    p.add_argument("--preparer", metavar="NAME")
    p.add_argument("--identity", metavar="NAME", help="sign the audit as this identity (default: the machine key)")
    p.add_argument("--users", metavar="TEXT", help="who uses the model's outputs")
    p.add_argument("--out-of-scope", metavar="TEXT", help="uses the model is not meant for")
    p.add_argument("--decision-requested", metavar="TEXT", help="what the board is asked to decide")
    p.add_argument("--json", action="store_true", help="print the stored audit as one JSON object")
    p.add_argument("--progress", choices=("bar", "jsonl", "none"), help="progress on stderr (default: bar on a terminal)")
    p.add_argument("--fail-on", choices=("warn", "fail"),
                   help="exit 1 when the verdict is this bad or worse: warn stops on warn, inconclusive and fail; "
                        "fail stops on inconclusive and fail (a gate never passes what was not measured)")


def batch_size_arg(text: str) -> int | str:
    """--batch-size: a positive whole number, or `auto` (auditor.memory_plan fits it to free memory)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number or auto") from None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    try:
        from auditor.batch import COMMANDS as BATCH_COMMANDS
        from auditor.cli_governance import COMMANDS
        from auditor.cli_identity import COMMANDS as IDENTITY_COMMANDS
        from auditor.cli_service import COMMANDS as SERVICE_COMMANDS
        from auditor.cli_verify import COMMANDS as VERIFY_COMMANDS

        _cancel_on_sigterm()
        from auditor import client

        if client.wanted(args):     # --server / $AUDITOR_SERVER: the same commands, run by a service
            if getattr(args, "pairs", None):   # the service runs with its own files: refused, not dropped
                raise BadInput("--pairs is not available with --server: the service runs the audit with its own files")
            return client.run(args)
        return {"audit": cmd_audit, "show": cmd_show, "list": cmd_list, "templates": cmd_templates,
                "demo": cmd_demo, **COMMANDS, **IDENTITY_COMMANDS,
                **VERIFY_COMMANDS, **SERVICE_COMMANDS, **BATCH_COMMANDS}[args.command](args)
    except AuditorError as exc:
        sys.stderr.write(f"auditor: {_one_line(str(exc))}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("auditor: interrupted\n")
        return 3
    except BrokenPipeError:  # stdout piped into `head` and closed early: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # never a traceback for users; AUDITOR_DEBUG=1 shows it to developers
        if os.environ.get("AUDITOR_DEBUG"):
            raise
        sys.stderr.write(f"auditor: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
                         "(set AUDITOR_DEBUG=1 for details)\n")
        return 3


def _cancel_on_sigterm() -> None:
    """SIGTERM (how the GUI stops its worker) cancels like Ctrl-C: the audit is recorded as cancelled."""
    import signal

    def _raise(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not the main thread (e.g. main() called from a test's thread)
        pass


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _request(args: argparse.Namespace) -> Any:
    from auditor.api import AuditRequest

    meta = meta_from_args(args)
    layer_outputs = [n.strip() for n in args.layer_outputs.split(",") if n.strip()] if args.layer_outputs else None
    return AuditRequest(model=args.model, probes=args.probes, template=args.template, db=args.db,
                        device=args.device, tokenizer=args.tokenizer, reference=args.reference,
                        layer_outputs=layer_outputs, limit=args.limit, seed=args.seed, meta=meta, name=args.name,
                        model_version=args.model_version, batch_size=args.batch_size, dtype=args.dtype,
                        skip_bad_probes=args.skip_bad_probes, signer=signer_of(args),
                        pairs=getattr(args, "pairs", None))


def meta_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The audit's metadata from --meta and the single-field flags (which win), after the flags' own checks;
    the local audit and `auditor --server ... audit` read them the same way."""
    from auditor.api import load_meta

    meta = load_meta(args.meta)
    if args.purpose:
        meta["purpose"] = args.purpose
    for key in ("preparer", "users", "out_of_scope", "decision_requested"):
        if getattr(args, key, None):
            meta[key] = getattr(args, key)
    if args.batch_size != "auto" and args.batch_size <= 0:
        raise BadInput("--batch-size must be a positive number or auto")
    return meta


def signer_of(args: argparse.Namespace) -> Any:
    """The Signer `--identity NAME` names (its passphrase asked now, before any work), or None."""
    name = getattr(args, "identity", None)
    if not name:
        return None
    from auditor.identity import load_identity

    return load_identity(name)


def _run(request: Any, style: str | None) -> str:
    from auditor.api import run_audit
    from auditor.cli_progress import ProgressSink, default_style

    sink = ProgressSink(style or default_style())
    try:
        audit_id = run_audit(request, progress=sink)
    finally:
        sink.close()
    sink.event("finished", audit_id=audit_id)
    return audit_id


def cmd_audit(args: argparse.Namespace) -> int:
    from auditor.api import show_audit

    audit_id = _run(_request(args), args.progress)
    data = show_audit(audit_id, args.db)
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(format_audit(data, args.db))
    return 1 if matches_fail_on(data["verdict"], args.fail_on) else 0


def matches_fail_on(verdict: str | None, fail_on: str | None) -> bool:
    from auditor.status import fails_gate

    return fails_gate(verdict, fail_on)


def cmd_show(args: argparse.Namespace) -> int:
    from auditor.api import show_audit

    data = show_audit(args.audit_id, args.db)
    if args.junit:
        from auditor.junit import write_junit

        write_junit(data, Path(args.junit))
    print(json.dumps(data, ensure_ascii=False) if args.json else format_audit(data, args.db))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from auditor.api import list_audits

    return print_audit_list(list_audits(args.db), args.json)


def cmd_templates(args: argparse.Namespace) -> int:
    from auditor.templates import list_templates

    items = [t.summary() for t in list_templates()]
    if args.json:
        print(json.dumps({"templates": items}, ensure_ascii=False))
        return 0
    for t in items:
        print(f"{t['name']} (version {t['version']}): {t['description']}\n    checks: {', '.join(t['checks'])}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from auditor.api import AuditRequest, demo_model_path, show_audit

    db = None
    if args.out:
        out = Path(args.out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"--out {out}: cannot create the folder: {exc.strerror or exc}") from None
        if not os.access(out, os.W_OK):
            raise BadInput(f"--out {out}: the folder is not writable; choose another folder")
        db = str(out / "demo.db")
    model = demo_model_path()
    request = AuditRequest(model=str(model), probes="builtin:text", db=db, device=args.device, dtype=args.dtype, limit=args.limit,
                           name="all-MiniLM-L6-v2", model_version="demo",
                           meta={"purpose": "Demonstration audit of a sentence-embedding model",
                                 "preparer": "auditor demo"})
    audit_id = _run(request, args.progress)
    data = show_audit(audit_id, db)
    print(format_audit(data, db))
    out_dir = Path(args.out) if args.out else Path("demo-reports")
    if args.out:
        target = out_dir / f"audit-{audit_id}.json"
        target.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"JSON:     {target}")
    if not args.no_reports:
        from reports.commands import write_demo_reports

        for pdf in write_demo_reports(audit_id, out_dir, db):
            print(f"PDF:      {pdf}")
    return 0



if __name__ == "__main__":
    raise SystemExit(main())

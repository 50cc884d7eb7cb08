"""CLI commands of the audit service: `token create|revoke|list` and `serve` (issue 18).

Argument parsing and printing only; tokens are auditor.service.tokens, the server is
auditor.service.app.serve (imported when `serve` runs, so the other commands need neither FastAPI
nor uvicorn). `token create` prints the token alone on stdout (`export AUDITOR_TOKEN=$(auditor token
create NAME)` works) and says on stderr that it is not shown again. Refusals: one line, exit 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from auditor.errors import BadInput

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def add_parsers(sub: Any) -> None:
    token = sub.add_parser("token", help="API tokens of the audit service, bound to identities")
    actions = token.add_subparsers(dest="token_command", metavar="ACTION", parser_class=type(token))
    actions.required = True
    create = actions.add_parser("create", help="a new token for an identity (shown once)")
    create.add_argument("identity", metavar="IDENTITY", help="the identity's name (`auditor identity list`)")
    _db_options(create)
    revoke = actions.add_parser("revoke", help="a token authenticates nothing from now on")
    revoke.add_argument("token_id", metavar="TOKEN_ID", help="T-… as `auditor token list` shows it")
    _db_options(revoke)
    listing = actions.add_parser("list", help="the tokens in the database (never their secrets)")
    _db_options(listing)
    _serve_parser(sub)


def _db_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="PATH", help="database file (default: $AUDITOR_DB or the user data folder)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _serve_parser(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the audit service (REST API, job queue and workers)")
    serve.add_argument("--host", default=DEFAULT_HOST, metavar="HOST",
                       help=f"address to listen on (default {DEFAULT_HOST}; another needs TLS or --insecure-http)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="PORT", help=f"default {DEFAULT_PORT}")
    serve.add_argument("--db", metavar="PATH", help="database file (default: $AUDITOR_DB or the user data folder)")
    serve.add_argument("--workers", type=int, metavar="N", help="worker processes (default: one per GPU, else 1)")
    serve.add_argument("--tls-cert", metavar="FILE", help="TLS certificate (PEM), with --tls-key")
    serve.add_argument("--tls-key", metavar="FILE", help="TLS private key (PEM), with --tls-cert")
    serve.add_argument("--insecure-http", action="store_true",
                       help="allow plain HTTP on a non-loopback address (tokens travel unencrypted)")


def cmd_token(args: argparse.Namespace) -> int:
    return {"create": _create, "revoke": _revoke, "list": _list}[args.token_command](args)


def _db_name(db: str | None) -> str:
    from auditor.api import db_path

    return str(db_path(db))


def _create(args: argparse.Namespace) -> int:
    from auditor.service.tokens import create_token, list_tokens

    token_id, token = create_token(args.db, args.identity)
    row = next((r for r in list_tokens(args.db) if r["id"] == token_id), {})
    if args.json:
        print(json.dumps({"id": token_id, "identity": row.get("identity"), "role": row.get("role"),
                          "token": token, "db": _db_name(args.db)}, ensure_ascii=False))
    else:
        print(token)
        sys.stderr.write(f"Created API token {token_id} for {row.get('identity')} ({row.get('role') or '-'}) "
                         f"in {_db_name(args.db)}.\n")
    sys.stderr.write("Store it now: it is not shown again.\n")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from auditor.service.tokens import revoke_token

    revoked = revoke_token(args.db, args.token_id)
    if args.json:
        print(json.dumps({"id": args.token_id, "revoked": True, "revoked_now": revoked}))
    elif revoked:
        print(f"Revoked API token {args.token_id} in {_db_name(args.db)}: it authenticates nothing from now on.")
    else:
        print(f"API token {args.token_id} was already revoked; nothing changed.")
    return 0


def _list(args: argparse.Namespace) -> int:
    from auditor.service.tokens import list_tokens

    rows = list_tokens(args.db)
    if args.json:
        print(json.dumps({"tokens": rows}, ensure_ascii=False))
        return 0
    if not rows:
        print(f"no API tokens in {_db_name(args.db)}; create one with `auditor token create IDENTITY`")
        return 0
    print(f"{'TOKEN ID':<11} {'IDENTITY':<24} {'ROLE':<9} {'CREATED (UTC)':<26} {'LAST USED (UTC)':<26} STATE")
    for r in rows:
        print(f"{r['id']:<11} {(r['identity'] or '')[:24]:<24} {r['role'] or '-':<9} {r['created_at']:<26} "
              f"{r['last_used_at'] or '-':<26} {r['state']}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    _check_serve(args)
    try:
        from auditor.service.app import serve
    except ModuleNotFoundError as exc:
        missing = exc.name or "a module"
        if missing in ("fastapi", "uvicorn") or missing.startswith(("fastapi.", "uvicorn.")):
            raise BadInput(f"auditor serve needs the package {missing.split('.')[0]}; "
                           "install it with `pip install fastapi uvicorn` (make setup does)") from None
        if missing.startswith("auditor.service"):
            raise BadInput(f"auditor serve is not available in this installation ({missing} is missing)") from None
        raise
    return int(serve(args))


def _check_serve(args: argparse.Namespace) -> None:
    """The flags' own rules (the address policy is the server's: auditor.service.app.serve)."""
    if not 0 < args.port < 65536:
        raise BadInput(f"--port {args.port}: give a port from 1 to 65535")
    if args.workers is not None and args.workers < 1:
        raise BadInput(f"--workers {args.workers}: give at least 1 worker")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise BadInput("--tls-cert and --tls-key go together: give both, or neither")
    for flag, value in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if value and not Path(value).is_file():
            raise BadInput(f"{flag} {value}: no such file")


COMMANDS = {"token": cmd_token, "serve": cmd_serve}

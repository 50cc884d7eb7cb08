"""The CLI's service client: `auditor --server URL --token T audit|list|show|report|sign|compare ...`.

The same commands as the local CLI, with the same output and exit codes, but the work is done by an
audit service (auditor.service, `auditor serve`) over its /v1 REST API, with the standard library only
(urllib, in auditor.client_http, imported only when a service is named: a local command never loads
the network modules). The commands are in auditor.client_commands (and client_audit, client_sign).

The token comes from --token or $AUDITOR_TOKEN and is only ever sent in the Authorization header:
no message, error or log line contains it. An HTTP error's JSON {"error": {"code", "message"}} is
printed as `auditor: <message>`; a client error (4xx: bad input, no or a bad token, a role without
the right, an unknown audit) is exit 2, a server error (5xx) exit 3, an unreachable server one line
naming the URL and exit 2.
"""
from __future__ import annotations

import argparse
import os

from auditor.errors import BadInput

REMOTE_COMMANDS = ("audit", "list", "show", "report", "sign", "compare")


def wanted(args: argparse.Namespace) -> bool:
    """Whether this command goes to a service: --server or $AUDITOR_SERVER is set. --server with a command
    that only works on a local database is refused (one line, exit 2); $AUDITOR_SERVER is then ignored."""
    explicit = getattr(args, "server", None)
    if not (explicit or os.environ.get("AUDITOR_SERVER")):
        return False
    if args.command in REMOTE_COMMANDS:
        return True
    if explicit:
        raise BadInput(f"--server works with {', '.join(REMOTE_COMMANDS)}; `auditor {args.command}` runs on this "
                       "computer only")
    return False


def run(args: argparse.Namespace) -> int:
    """Runs the parsed command against the service."""
    from auditor import client_commands
    from auditor.client_http import Service

    service = Service(args.server or os.environ.get("AUDITOR_SERVER", ""),
                      getattr(args, "token", None) or os.environ.get("AUDITOR_TOKEN"))
    if getattr(args, "db", None):
        raise BadInput(f"--db names a local database; with --server the audits are in the server's database "
                       f"({service.url})")
    return int(client_commands.COMMANDS[args.command](service, args))



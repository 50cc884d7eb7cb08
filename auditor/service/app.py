"""The audit service's HTTP application (FastAPI) and `auditor serve` (uvicorn).

`create_app(db_path, pool)` builds the /v1 API over one audit database: the routes are in
routes_audits (submit, list, show, progress, cancel, the queue), routes_records (reports,
sign-offs, assignments, the model inventory) and routes_compare (comparisons). Every route but
GET /v1/health needs a Bearer token (auditor.service.tokens); failed authentications are
rate-limited per client address (429 with Retry-After). The OpenAPI document is at /v1/openapi.json; the interactive docs pages are off, because
they load their scripts from a public CDN and the service runs on a network without one.

`serve(args)` refuses a non-loopback address without TLS unless --insecure-http, marks the jobs a
killed server left running as interrupted (queue.recover), starts the worker processes and runs
uvicorn until SIGINT/SIGTERM, then stops the workers.
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from auditor.errors import BadInput
from auditor.messages import Message, render
from auditor.service.cache import ShowCache
from auditor.service.errors import ApiError, CliJSON, install
from auditor.service.ratelimit import FailedAuthLimiter
from auditor.service.tokens import Caller

API_PREFIX = "/v1"
_bearer = HTTPBearer(auto_error=False, description="an API token from `auditor token create IDENTITY`")


def database(request: Request) -> str:
    """The service's database path (a dependency of every route)."""
    return str(request.app.state.db_path)


def client_ip(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def caller(request: Request,
           credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
    """The authenticated identity of the request; 401 without a valid token, 429 after too many failures."""
    from auditor.service import tokens

    limiter: FailedAuthLimiter = request.app.state.limiter
    ip = client_ip(request)
    if not limiter.allow(ip):
        wait = limiter.retry_after(ip)
        raise _refused(429, "rate_limited", Message("service.api.rate_limited", {"client": ip, "seconds": wait}),
                       {"Retry-After": str(wait)})
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        limiter.failed(ip)
        raise _refused(401, "unauthorized", Message("service.api.no_token"), {"WWW-Authenticate": "Bearer"})
    who = tokens.authenticate(database(request), credentials.credentials.strip())
    if who is None:
        limiter.failed(ip)
        raise _refused(401, "unauthorized", Message("service.api.bad_token"),
                       {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return who


Db = Annotated[str, Depends(database)]        # the database path, in a route's signature
Who = Annotated[Caller, Depends(caller)]     # the authenticated caller, in a route's signature


def _refused(status: int, code: str, sentence: Message, headers: dict[str, str] | None = None) -> ApiError:
    return ApiError(status, code, render(sentence, "en"), sentence=sentence, headers=headers)


def refuse(status: int, code: str, key: str, **params: Any) -> ApiError:
    """An ApiError whose line is the catalogue sentence `key` (en; the key and params travel with it)."""
    return _refused(status, code, Message(key, params))


def create_app(db_path: str | Path, pool: Any = None) -> FastAPI:
    """The /v1 application over the database at `db_path`; `pool` (a WorkerPool or None) runs the jobs."""
    from auditor.environment import auditor_version
    from auditor.service import routes_audits, routes_catalogue, routes_compare, routes_records

    app = FastAPI(title="Transformer auditor service", version=auditor_version(),
                  description="Queue, follow, review and sign model audits (issue 18). Errors are "
                              '{"error": {"code", "message"}}.',
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None,
                  default_response_class=CliJSON)
    app.state.db_path = str(db_path)
    app.state.pool = pool
    app.state.limiter = FailedAuthLimiter()
    app.state.show_cache = ShowCache()
    install(app)

    @app.get(f"{API_PREFIX}/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Whether the service answers (no token needed; says nothing about the audits)."""
        return {"status": "ok", "api": "v1", "version": auditor_version()}

    app.include_router(routes_audits.router, prefix=API_PREFIX)
    app.include_router(routes_records.router, prefix=API_PREFIX)
    app.include_router(routes_compare.router, prefix=API_PREFIX)
    app.include_router(routes_catalogue.router, prefix=API_PREFIX)
    return app


# ---- `auditor serve` ------------------------------------------------------------------------------------------

def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_tls(args: argparse.Namespace) -> bool:
    """True when TLS is configured (both files readable); BadInput for half a configuration."""
    cert, key = getattr(args, "tls_cert", None), getattr(args, "tls_key", None)
    if bool(cert) != bool(key):
        raise BadInput("give both --tls-cert and --tls-key (the server's certificate and its private key)")
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if path and not os.access(path, os.R_OK):
            raise BadInput(f"{flag} {path}: no such readable file")
    return bool(cert)


def _check_host(host: str, tls: bool, insecure: bool) -> None:
    if is_loopback(host) or tls:
        return
    if not insecure:
        raise BadInput(f"--host {host} is reachable from the network, and without TLS the API tokens and the "
                       "audits would cross it unencrypted; give --tls-cert and --tls-key (or --insecure-http "
                       "on a network you trust)")
    sys.stderr.write(f"auditor: warning: serving plain HTTP on {host}: API tokens and audits cross the network "
                     "unencrypted (--insecure-http)\n")


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a busy port is one line, not a server log."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP; without it
    # every response written in two parts (headers, then body) waited ~40 ms for the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def default_workers() -> int:
    """One worker per GPU the driver shows (CUDA_VISIBLE_DEVICES narrows it), each pinned to its GPU
    (auditor.service.workers.worker_env), else one."""
    from auditor.service.workers import visible_gpus

    return max(1, len(visible_gpus()))


def serve(args: argparse.Namespace) -> int:
    """`auditor serve`: checks the address and TLS, recovers the queue, starts the workers, runs uvicorn."""
    import uvicorn

    from auditor import api
    from auditor.service import queue
    from auditor.service.workers import WorkerPool

    host, port = args.host or "127.0.0.1", int(args.port)
    tls = _check_tls(args)
    _check_host(host, tls, bool(getattr(args, "insecure_http", False)))
    workers = args.workers if getattr(args, "workers", None) is not None else default_workers()
    if workers < 1:
        raise BadInput("--workers must be at least 1")
    db = str(api.db_path(getattr(args, "db", None)))
    api.create_database(db)
    sock = _listen(host, port)
    lost = queue.recover(db)
    if lost:
        sys.stderr.write(f"auditor: {len(lost)} job(s) were running when the server stopped; marked interrupted: "
                         f"{', '.join(lost)}\n")
    pool = WorkerPool(db, workers, device=getattr(args, "device", None) or "auto")
    config = uvicorn.Config(create_app(db, pool), ssl_certfile=args.tls_cert if tls else None,
                            ssl_keyfile=args.tls_key if tls else None, log_level="warning",
                            timeout_graceful_shutdown=5, server_header=False)
    scheme = "https" if tls else "http"
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(f"auditor: serving the audit API on {scheme}://{shown}:{sock.getsockname()[1]}/v1 "
                     f"(database {db}, {workers} worker(s)); stop with Ctrl-C\n")
    sys.stderr.flush()
    pool.start()
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shut down on SIGINT/SIGTERM and re-raised the signal on leaving: a normal stop, exit 0
        pass
    finally:
        pool.stop()
        sock.close()
    return 0

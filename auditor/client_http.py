"""HTTP for the service client (auditor.client): one Service (base URL + token), JSON requests, downloads
and a Server-Sent Events reader, with every failure turned into one line and an exit code.

HTTPS is verified against the system's certificates ($SSL_CERT_FILE names an organisation CA bundle).
The token is only ever put in the Authorization header; repr and every message leave it out.
"""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from auditor.errors import AuditorError, BadInput

TIMEOUT_S = 60.0          # one request; the progress stream waits longer between events (STREAM_TIMEOUT_S)
STREAM_TIMEOUT_S = 900.0  # a check can run minutes without a progress line; the server keeps the stream alive


class ServiceError(AuditorError):
    """The service failed (HTTP 5xx or a broken answer): exit code 3, like an audit that failed."""

    exit_code = 3


class StreamLost(ServiceError):
    """The connection broke while a stream was being read (the server stopped or the network failed)."""


class Service:
    """One audit service: its base URL and the caller's token (kept out of repr and every message)."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = _checked_url(url)
        if not token or not token.strip():
            raise BadInput(f"--server {self.url} needs an API token: --token T or $AUDITOR_TOKEN "
                           "(`auditor token create IDENTITY` on the server prints one)")
        self._token = token.strip()
        self._context = ssl.create_default_context() if self.url.startswith("https:") else None

    def __repr__(self) -> str:
        return f"Service({self.url!r})"

    def get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        return _json(self._open("GET", path, query=query), self.url)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return _json(self._open("POST", path, body=body), self.url)

    def download(self, path: str, query: dict[str, Any], target: Any) -> None:
        """The answer's bytes written to `target` (an open binary file) as they arrive; a write error is the
        caller's (OSError), a broken connection a StreamLost."""
        with self._open("GET", path, query=query, accept="application/pdf, application/json") as answer:
            while True:
                try:
                    chunk = answer.read(1 << 16)
                except (OSError, http.client.HTTPException) as exc:
                    raise StreamLost(f"lost the connection to the audit server at {self.url}: "
                                     f"{_one_line(str(exc) or type(exc).__name__)}") from None
                if not chunk:
                    return
                target.write(chunk)

    def events(self, path: str, query: dict[str, Any] | None = None) -> Iterator[SSEvent]:
        """A Server-Sent Events stream (SSEvent: name, parsed JSON data, id); ends when the server closes it.
        A connection lost mid-stream is a StreamLost (exit 3) naming the last event received."""
        answer = self._open("GET", path, query=query, accept="text/event-stream", timeout=STREAM_TIMEOUT_S)
        try:
            with answer:
                yield from parse_sse(answer, self.url)
        except (OSError, http.client.HTTPException) as exc:
            raise StreamLost(f"lost the connection to the audit server at {self.url}: "
                             f"{_one_line(str(exc) or type(exc).__name__)}") from None

    def _open(self, method: str, path: str, *, query: dict[str, Any] | None = None,
              body: dict[str, Any] | None = None, accept: str = "application/json",
              timeout: float = TIMEOUT_S) -> Any:
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("Accept", accept)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            return urllib.request.urlopen(request, timeout=timeout, context=self._context)
        except urllib.error.HTTPError as exc:
            raise _http_error(exc) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise BadInput(_unreachable(self.url, exc)) from None


def _checked_url(url: str) -> str:
    url = (url or "").strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or parts.username or parts.password:
        raise BadInput(f"--server {url or '(empty)'}: give the service's address as http://HOST:PORT or "
                       "https://HOST:PORT")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise BadInput(f"--server {url}: the port is not a number") from None
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.stderr.write(f"auditor: warning: {url} is plain HTTP: the token and the audits cross the network "
                         "unencrypted; use https\n")
    return url


def _http_error(exc: urllib.error.HTTPError) -> AuditorError:
    """The server's one-line message; 4xx is the caller's to fix (exit 2), 5xx the server's (exit 3)."""
    try:
        raw = exc.read(1 << 16)
        exc.close()
        message = json.loads(raw.decode("utf-8"))["error"]["message"]
    except Exception:  # not our JSON error (a proxy's page, a cut answer): say the status
        message = None
    if not isinstance(message, str) or not message.strip():
        message = f"the audit server answered HTTP {exc.code} {exc.reason or ''}".strip()
    message = _one_line(message)
    if exc.code == 429 and exc.headers.get("Retry-After"):
        message += f" (retry after {exc.headers['Retry-After']} s)"
    return BadInput(message) if 400 <= exc.code < 500 else ServiceError(message)


def _unreachable(url: str, exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, ConnectionRefusedError):
        why = "connection refused (is `auditor serve` running there?)"
    elif isinstance(reason, (socket.timeout, TimeoutError)):
        why = "no answer in time"
    elif isinstance(reason, socket.gaierror):
        why = "unknown host name"
    elif isinstance(reason, http.client.HTTPException):
        why = "it does not answer as an HTTP service"
    elif isinstance(reason, ssl.SSLCertVerificationError):
        why = f"its TLS certificate is not trusted ({reason.verify_message}; $SSL_CERT_FILE names a CA bundle)"
    else:
        why = _one_line(str(getattr(reason, "strerror", None) or reason))
    return f"cannot reach the audit server at {url}: {why}"


def _json(answer: Any, url: str) -> Any:
    with answer:
        raw = answer.read()
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ServiceError(f"the audit server at {url} sent an answer that is not JSON") from None


@dataclass(frozen=True)
class SSEvent:
    """One Server-Sent Event: its `event:` name ("message" when none), its JSON data, its `id:` (or None)."""

    name: str
    data: Any
    id: str | None = None


def parse_sse(lines: Any, url: str) -> Iterator[SSEvent]:
    """Each Server-Sent Event in a byte-line iterable; comments (keep-alives) are skipped, and a data field
    that is not JSON is a broken answer."""
    name, data, event_id = "message", [], None
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                try:
                    yield SSEvent(name, json.loads("\n".join(data)), event_id)
                except json.JSONDecodeError:
                    raise ServiceError(f"the audit server at {url} sent a progress event that is not JSON") from None
            name, data, event_id = "message", [], None
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                event_id = value


def _one_line(text: str) -> str:
    return " ".join(str(text).split())

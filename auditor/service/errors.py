"""The service's errors: every refusal is JSON {"error": {"code", "message"}} with one line, the CLI's wording.

A refusal that the engine states as a catalogue Message (the duties rules, identity refusals, the
sign-off policy) also carries it as {"key", "params"} in the error, so a client shows it in Japanese.
Status codes: 400 bad input (the CLI's exit 2), 401 no or a bad token, 403 a role or identity without
the right, 404 an unknown audit or job, 409 a request that conflicts with the current state, 422 a
request body or query the API does not accept, 429 too many failed authentications, 500 a failure
of ours (the CLI's exit 3). No traceback ever reaches a client.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from auditor.errors import AuditorError, BadInput
from auditor.messages import Message

log = logging.getLogger("auditor.service")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}


class CliJSON(JSONResponse):
    """JSON written as `auditor ... --json` writes it (json.dumps, ensure_ascii=False), so a client that
    compares the service's answer with the CLI's output finds the same object."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False).encode("utf-8")


class ApiError(Exception):
    """A refusal with its HTTP status, a stable code and one line (and the sentence, when it is one)."""

    def __init__(self, status: int, code: str, message: str, *, sentence: Message | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.sentence = status, code, one_line(message), sentence
        self.headers = headers or {}


def one_line(text: Any) -> str:
    return " ".join(str(text).split())


def body(code: str, message: str, sentence: Message | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": one_line(message)}
    if sentence is not None:
        error.update(sentence.to_json())
    return {"error": error}


def respond(status: int, code: str, message: str, sentence: Message | None = None,
            headers: dict[str, str] | None = None) -> Response:
    return CliJSON(body(code, message, sentence), status_code=status, headers=headers)


def from_engine(exc: AuditorError) -> ApiError:
    """The engine's refusal as an ApiError: a duties refusal is 403, other bad input 400, a failure 500."""
    from auditor.duties import DutyRefused

    sentence = getattr(exc, "message", None)
    sentence = sentence if isinstance(sentence, Message) else None
    from auditor.service.queue import UnknownJob

    if isinstance(exc, UnknownJob):
        return ApiError(404, "not_found", str(exc))
    if isinstance(exc, DutyRefused):
        return ApiError(403, "forbidden", str(exc), sentence=sentence)
    if isinstance(exc, BadInput):
        return ApiError(400, "bad_input", str(exc), sentence=sentence)
    return ApiError(500, "failed", str(exc), sentence=sentence)


def _validation_line(exc: RequestValidationError) -> str:
    """The first problem of a request the API does not accept, as `field: what is wrong`."""
    errors = exc.errors()
    if not errors:
        return "the request is not valid"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where or 'request'}: {first.get('msg', 'not valid')}{more}"


def install(app: FastAPI) -> None:
    """Registers the handlers that turn every exception into the JSON error shape."""

    @app.exception_handler(ApiError)
    async def _api(_request: Request, exc: ApiError) -> Response:
        return respond(exc.status, exc.code, exc.message, exc.sentence, exc.headers)

    @app.exception_handler(AuditorError)
    async def _engine(_request: Request, exc: AuditorError) -> Response:
        error = from_engine(exc)
        return respond(error.status, error.code, error.message, error.sentence)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        return respond(422, "invalid_request", _validation_line(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = f"no such API route: {request.method} {request.url.path}" if exc.status_code in (404, 405) \
            else str(exc.detail)
        return respond(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        # the server's log keeps the traceback for whoever runs it; the client gets one line
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return respond(500, "internal", f"internal error: {type(exc).__name__}: {one_line(exc)}")

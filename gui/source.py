"""Where the window reads and writes audits: a local database (LocalSource, the embedded default) or an
audit service (ServiceSource, `auditor serve` over HTTP). Pages call `state.source.*` and never know which.

ServiceSource speaks the /v1 API through auditor.client_http.Service (urllib, the CLI client's own code);
an audit comes back from GET /v1/audits/{id}, the `auditor show --json` object, as AuditView.from_json.
Sign-offs are signed on this computer with the person's key (auditor.client_sign) and only the signed
statement is sent. Verification of the signed record needs the database file, so a service's audits are
not verified here: the client says so instead of showing a state it did not check.
All calls block: pages call them as they called auditor.api (short reads) or on a pool thread.
A service that cannot be reached raises Unreachable (one sentence, gui_service.down.*) and tells the window
through `reached` (called from whichever thread read), so every page can say so instead of showing a traceback.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from auditor import api
from auditor.errors import AuditorError
from auditor.messages import Message
from auditor.views import AuditView


class Unreachable(AuditorError):
    """The audit service did not answer (refused, timed out, the connection broke); `sentence` says so."""

    def __init__(self, url: str) -> None:
        self.sentence = Message("gui_service.down.sentence", {"url": url})
        super().__init__(f"cannot reach the audit service at {url}")


def unreachable(exc: BaseException) -> bool:
    """Whether a client_http error means the service did not answer (not a refusal, not a TLS problem)."""
    import http.client
    import ssl
    import urllib.error

    from auditor.client_http import StreamLost

    cause = exc.__context__
    if isinstance(exc, StreamLost):
        return True
    if isinstance(cause, urllib.error.HTTPError) or isinstance(getattr(cause, "reason", None), ssl.SSLError):
        return False
    return isinstance(cause, (urllib.error.URLError, OSError, http.client.HTTPException)) \
        and not isinstance(cause, ssl.SSLError)


@dataclass(frozen=True)
class _Check:
    id: str


@dataclass(frozen=True)
class ServerTemplate:
    """A template as the server describes it (GET /v1/templates): what New audit shows in service mode."""

    name: str
    version: str
    checks: tuple[_Check, ...]
    min_probes: int = 0
    approval_grade: bool = True
    description: dict[str, str] = field(default_factory=dict)

    def describe(self, lang: str = "en") -> str:
        return self.description.get(lang) or self.description.get("en") or ""

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> ServerTemplate:
        described = row.get("description")
        return cls(str(row["name"]), str(row.get("version") or "?"), tuple(_Check(str(c)) for c in row.get("checks") or ()),
                   int(row.get("min_probes") or 0), bool(row.get("approval_grade", True)),
                   {str(k): str(v) for k, v in described.items()} if isinstance(described, dict) else {})


class LocalSource:
    """Today's behaviour: auditor.api on the database file `db` (None: the default location)."""

    local = True

    def __init__(self, db: str | None) -> None:
        self.db = db

    def where(self) -> str:
        return str(api.db_path(self.db))

    def list_audits(self) -> list[dict[str, Any]]:
        return api.list_audits(self.db)

    def audit_view(self, audit_id: str) -> AuditView:
        return api.audit_view(audit_id, self.db)

    def compare_audits(self, a: str, b: str) -> dict[str, Any]:
        return api.compare_audits(a, b, db=self.db)

    def signoff_refusal(self, audit_id: str, role: str, decision: str | None, identity: str | None) -> Any:
        return api.signoff_refusal(audit_id, role, decision, identity, self.db)

    def sign_audit(self, audit_id: str, role: str, name: str, decision: str | None, signer: Any) -> Any:
        return api.sign_audit(audit_id, role, name, decision=decision, db=self.db, signer=signer)

    def assign_finding(self, audit_id: str, finding_id: int, owner: str | None, due: str | None, actor: str,
                       signer: Any) -> Any:
        return api.assign_finding(audit_id, finding_id, owner=owner, due=due, actor=actor, db=self.db, signer=signer)

    def list_templates(self) -> list[Any]:
        return list(api.list_templates())

    def build_pdf(self, audit_id: str, out: Path, kind: str, lang: str) -> Path:
        from gui.pages.export import build_pdf

        return build_pdf(audit_id, out, kind, lang, self.db)


class ServiceSource:
    """An audit service at `url`, as the identity its `token` belongs to (`name`, `role` from /v1/whoami)."""

    local = False

    def __init__(self, url: str, token: str, name: str = "", role: str = "") -> None:
        from auditor.client_http import Service

        self.service = Service(url, token)
        self.url = self.service.url
        self.name, self.role = name, role
        self.default_template = ""              # the server's default (GET /v1/templates), once listed
        self.reached: Callable[[bool], None] | None = None   # told when the service stops or starts answering
        self._up = True

    def _get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        """A read; a service that does not answer is Unreachable (and `reached(False)` once per outage)."""
        try:
            answer = self.service.get(path, query)
        except AuditorError as exc:
            if unreachable(exc):
                self._tell(False)
                raise Unreachable(self.url) from exc
            raise
        self._tell(True)
        return answer

    def _tell(self, up: bool) -> None:
        if up != self._up:
            self._up = up
            if self.reached is not None:
                self.reached(up)

    def __repr__(self) -> str:     # never the token
        return f"ServiceSource({self.url!r})"

    def where(self) -> str:
        return self.url

    def list_audits(self) -> list[dict[str, Any]]:
        return list(self._get("/v1/audits")["audits"])

    def audit_view(self, audit_id: str) -> AuditView:
        return AuditView.from_json(self._get(_audit(audit_id)))

    def compare_audits(self, a: str, b: str) -> dict[str, Any]:
        return dict(self._get("/v1/compare", {"a": a, "b": b}))

    def signoff_refusal(self, audit_id: str, role: str, decision: str | None, identity: str | None) -> Any:
        """None: the service applies the separation-of-duties rules when the signed statement arrives (its
        refusal is shown then); the local rules would read a database this client does not have."""
        return None

    def sign_audit(self, audit_id: str, role: str, name: str, decision: str | None, signer: Any) -> Any:
        from auditor.client_sign import signed_for
        from auditor.errors import BadInput

        if signer is None or getattr(signer, "machine", False):
            raise BadInput("a sign-off sent to the audit service is signed with your own identity: choose it")
        body = signed_for(self.service, signer, audit_id, role, decision)
        return self.service.post(_audit(audit_id) + "/signoffs", body)

    def assign_finding(self, audit_id: str, finding_id: int, owner: str | None, due: str | None, actor: str,
                       signer: Any) -> Any:
        """Recorded by the service with the token's identity as the actor (`actor` and `signer` are local)."""
        return self.service.post(_audit(audit_id) + "/assignments",
                                 {"finding_id": finding_id, "owner": owner, "due": due})

    def list_templates(self) -> list[Any]:
        """The templates the server runs, as it describes them (GET /v1/templates); a server without the
        route (404): this client's built-in templates, the server checking the name when the job arrives."""
        from auditor.errors import BadInput

        try:
            answer = self._get("/v1/templates")
        except BadInput:
            return list(api.list_templates())
        self.default_template = str(answer.get("default") or "")
        return [ServerTemplate.from_json(row) for row in answer["templates"]]

    def build_pdf(self, audit_id: str, out: Path, kind: str, lang: str) -> Path:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as target:
            self.service.download(_audit(audit_id) + "/report", {"kind": kind, "lang": lang}, target)
        return out

    def signed_report(self, audit_id: str, out: Path, signer: Any, kind: str, lang: str) -> Path:
        """`auditor --server URL report ID --sign IDENTITY`'s own flow (auditor.client_commands.signed_report):
        prepared by the service for `signer`, signed here, recorded there, then written to `out`."""
        from auditor.client_commands import signed_report

        return signed_report(self.service, audit_id, out, signer, kind, lang)

    # ---- the queue (service only)
    def whoami(self) -> dict[str, Any]:
        return dict(self.service.get("/v1/whoami"))

    def jobs(self) -> list[dict[str, Any]]:
        return list(self._get("/v1/jobs")["jobs"])

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.service.get("/v1/jobs/" + quote(job_id, safe="")))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return dict(self.service.post(_audit(job_id) + "/cancel", {}))

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        return dict(self.service.post("/v1/audits", request))

    def events(self, job_id: str, after: int = 0) -> Any:
        """The job's progress events (client_http.SSEvent), then `end` with the job; blocks while it runs."""
        return self.service.events(_audit(job_id) + "/progress", {"after": after or None})


def _audit(audit_id: str) -> str:
    return "/v1/audits/" + quote(audit_id, safe="")


def unverified(lang: str) -> Any:
    """The evidence state of a service's audit: not checked here (verification reads the database file)."""
    from auditor.messages import text
    from gui.widgets.verification import ERROR, Evidence

    return Evidence(ERROR, detail=text("gui_service.verify.not_here", lang))

"""Where the window reads and writes audits: a local database (LocalSource, the embedded default) or an
audit service (ServiceSource, `auditor serve` over HTTP). Pages call `state.source.*` and never know which.

ServiceSource speaks the /v1 API through auditor.client_http.Service (urllib, the CLI client's own code);
an audit comes back from GET /v1/audits/{id}, the `auditor show --json` object, as AuditView.from_json.
Sign-offs are signed on this computer with the person's key (auditor.client_sign) and only the signed
statement is sent. Verification of the signed record needs the database file, so a service's audits are
not verified here: the client says so instead of showing a state it did not check.
All calls block: pages call them as they called auditor.api (short reads) or on a pool thread.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from auditor import api
from auditor.views import AuditView


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

    def __repr__(self) -> str:     # never the token
        return f"ServiceSource({self.url!r})"

    def where(self) -> str:
        return self.url

    def list_audits(self) -> list[dict[str, Any]]:
        return list(self.service.get("/v1/audits")["audits"])

    def audit_view(self, audit_id: str) -> AuditView:
        return AuditView.from_json(self.service.get(_audit(audit_id)))

    def compare_audits(self, a: str, b: str) -> dict[str, Any]:
        return dict(self.service.get("/v1/compare", {"a": a, "b": b}))

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
        """The built-in templates the server runs (GET /v1/templates), described from this client's copy of
        them (same product); a server without the route: every built-in template."""
        from auditor.errors import BadInput

        local = list(api.list_templates())
        try:
            names = {t["name"] for t in self.service.get("/v1/templates")["templates"]}
        except BadInput:          # an older server (404): offer them all, the server checks the name
            return local
        return [t for t in local if t.name in names]

    def build_pdf(self, audit_id: str, out: Path, kind: str, lang: str) -> Path:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as target:
            self.service.download(_audit(audit_id) + "/report", {"kind": kind, "lang": lang}, target)
        return out

    # ---- the queue (service only)
    def whoami(self) -> dict[str, Any]:
        return dict(self.service.get("/v1/whoami"))

    def jobs(self) -> list[dict[str, Any]]:
        return list(self.service.get("/v1/jobs")["jobs"])

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

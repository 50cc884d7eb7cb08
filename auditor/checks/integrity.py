"""artifact.integrity: what exactly was audited (METHODS.md, artifact.integrity)."""
from __future__ import annotations

from typing import Any

from auditor.checks.base import AuditContext, Check, CheckResult
from auditor.checks.registry import register


@register
class ArtifactIntegrity(Check):
    """Per-file SHA-256, format, opset, dtypes, parameter count, custom operators, external data."""

    id = "artifact.integrity"
    feeds_probes = False       # reads the file, never runs the model
    title = "Artifact integrity"
    meaning = ("Records exactly which files were audited, with their fingerprints, and flags anything "
               "unusual in them (custom operators, data stored outside the model file).")
    dimension = "integrity"
    metric_names = frozenset({"files", "total_bytes", "parameters", "custom_operator_count",
                              "contrib_operator_count", "external_data_files", "dtype_count"})

    def run(self, ctx: AuditContext) -> CheckResult:
        from auditor.models.inspect import inspect_artifact

        facts = inspect_artifact(ctx.model_path)
        changed = changed_files(facts.get("files") or [], ctx.identity.files)
        if changed:
            # the files changed between loading and inspection: say so loudly, never hide it
            facts.setdefault("findings", []).append(
                f"the model files changed while the audit ran ({', '.join(changed[:5])})")
        custom = facts.get("custom_operators") or []
        contrib = facts.get("contrib_operators") or []
        external = facts.get("external_data_files") or []
        metrics = {
            "files": len(facts.get("files") or []),
            "total_bytes": facts.get("total_bytes"),
            "parameters": facts.get("parameters"),
            "custom_operator_count": len(custom),
            "contrib_operator_count": len(contrib),
            "external_data_files": len(external),
            "dtype_count": len(facts.get("dtypes") or {}),
        }
        notes = facts.get("findings") or []
        summary = (f"{metrics['files']} file(s), {_size(metrics['total_bytes'])}, "
                   f"{_count(metrics['parameters'])} parameters, format {facts.get('format')}"
                   + (f"; {'; '.join(notes)}" if notes else "; nothing unusual found"))
        return CheckResult(check_id=self.id, outcome="ok", summary=summary, metrics=metrics, evidence=facts)


def changed_files(inspected: list[dict[str, Any]], loaded: list[Any]) -> list[str]:
    """Files whose bytes differ between loading and inspection, compared file by file.

    The identity may cover more than the file inspected (a bare .onnx beside its tokenizer is
    identified with the tokenizer files), so the manifest hashes of the two scopes can differ
    while nothing changed: only files present in both are compared.
    """
    known = {digest.path: digest.sha256 for digest in loaded}
    return [f["path"] for f in inspected if f.get("path") in known and known[f["path"]] != f.get("sha256")]


def _size(n: float | None) -> str:
    if not n:
        return "size unknown"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "bytes" else f"{int(n)} bytes"
        n /= 1024
    return f"{n:.1f} GiB"


def _count(n: float | None) -> str:
    if n is None:
        return "an unknown number of"
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{int(n):,}"

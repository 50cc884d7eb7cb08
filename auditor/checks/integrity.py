"""artifact.integrity: what exactly was audited (docs/METHODS.md, artifact.integrity).

The summary states facts as catalogue messages (templates/sentences/checks_flow.yaml): the file count,
size, parameter count and format, then one message per unusual thing found (a note kind with its
own parameters), so every language renders the same facts and nothing parses an English sentence.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from auditor.checks.base import AuditContext, Check, CheckResult
from auditor.checks.registry import register
from auditor.messages import Message, render
from auditor.models.inspect import _LOW_OPSET as LOW_OPSET  # one threshold for the inspection and the note
from auditor.models.safety import UNSAFE_WEIGHT_SUFFIXES

_KEY = "check.artifact.integrity"


@register
class ArtifactIntegrity(Check):
    """Per-file SHA-256, format, opset, dtypes, parameter count, custom operators, external data."""

    id = "artifact.integrity"
    feeds_probes = False       # reads the file, never runs the model
    dimension = "integrity"
    metric_names = frozenset({"files", "total_bytes", "parameters", "custom_operator_count",
                              "contrib_operator_count", "external_data_files", "dtype_count"})

    def run(self, ctx: AuditContext) -> CheckResult:
        from auditor.models.inspect import inspect_artifact

        facts = inspect_artifact(ctx.model_path)
        changed = changed_files(facts.get("files") or [], ctx.identity.files)
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
        found = notes(facts, single_file=Path(ctx.model_path).is_file(), changed=changed)
        # the stored English list says exactly what the summary says (one source: the catalogue)
        facts["findings"] = [render(note, "en") for note in found]
        return CheckResult(check_id=self.id, outcome="ok", metrics=metrics, evidence=facts,
                           sentences=summary(facts, metrics, found))


def summary(facts: dict[str, Any], metrics: dict[str, Any], found: list[Message]) -> tuple[Message, ...]:
    """What was audited, then the notes (or that nothing unusual was found)."""
    head = Message(f"{_KEY}.files", {
        "files": metrics["files"], "format": facts.get("format"),
        "total_bytes": metrics["total_bytes"], "size": size(metrics["total_bytes"]),
        "parameters": metrics["parameters"], "parameter_count": parameter_count(metrics["parameters"])})
    tail = Message(f"{_KEY}.notes", {"notes": found}) if found else Message(f"{_KEY}.nothing_unusual")
    return head, tail


def notes(facts: dict[str, Any], *, single_file: bool, changed: list[str]) -> list[Message]:
    """One message per unusual thing in the artifact, in the order the inspection finds them."""
    found: list[Message] = []
    unsafe = [f["path"] for f in facts.get("files") or []
              if PurePosixPath(f["path"]).suffix.lower() in UNSAFE_WEIGHT_SUFFIXES]
    if unsafe:
        found.append(_counted("unsafe_files", len(unsafe), files=unsafe))
    floats = {k: v for k, v in (facts.get("dtypes") or {}).items() if "float" in k}  # int buffers are normal
    if len(floats) > 1:
        found.append(Message(f"{_KEY}.note.mixed_dtypes", {
            "dtypes": [_counted("dtype_tensors", count, dtype=name) for name, count in floats.items()]}))
    if facts.get("format") == "transformers":
        if (facts.get("shards") or 0) > 1:
            found.append(Message(f"{_KEY}.note.shards", {"shards": facts["shards"]}))
    else:
        found.extend(_onnx_notes(facts, single_file))
    if changed:
        # the files changed between loading and inspection: say so loudly, never hide it
        found.append(Message(f"{_KEY}.note.changed", {"files": changed[:5], "count": len(changed)}))
    return found


def _onnx_notes(facts: dict[str, Any], single_file: bool) -> list[Message]:
    found: list[Message] = []
    if facts.get("custom_operators"):
        found.append(_counted("custom_operators", len(facts["custom_operators"]), operators=facts["custom_operators"]))
    if facts.get("contrib_operators"):
        found.append(_counted("contrib_operators", len(facts["contrib_operators"]),
                              operators=facts["contrib_operators"]))
    if facts.get("external_data_files"):
        found.append(Message(f"{_KEY}.note.external_data", {"files": facts["external_data_files"]}))
        if single_file:  # the manifest of a single file cannot cover its companions
            found.append(Message(f"{_KEY}.note.external_unhashed"))
    opset = (facts.get("opset") or {}).get("ai.onnx")
    if opset is not None and opset < LOW_OPSET:
        found.append(Message(f"{_KEY}.note.low_opset", {"opset": opset, "minimum": LOW_OPSET}))
    return found


def _counted(kind: str, count: int, **params: Any) -> Message:
    """A note whose English noun agrees with its count (key suffix .one or .other)."""
    return Message(f"{_KEY}.note.{kind}.{'one' if count == 1 else 'other'}", {"count": count, **params})


def changed_files(inspected: list[dict[str, Any]], loaded: list[Any]) -> list[str]:
    """Files whose bytes differ between loading and inspection, compared file by file.

    The identity may cover more than the file inspected (a bare .onnx beside its tokenizer is
    identified with the tokenizer files), so the manifest hashes of the two scopes can differ
    while nothing changed: only files present in both are compared.
    """
    known = {digest.path: digest.sha256 for digest in loaded}
    return [f["path"] for f in inspected if f.get("path") in known and known[f["path"]] != f.get("sha256")]


def size(n: float | None) -> Message:
    """The artifact's size: bytes below 1 KiB, else KiB, MiB or GiB with one decimal."""
    if not n:
        return Message(f"{_KEY}.size.unknown")
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            if unit == "bytes":
                return Message(f"{_KEY}.size.bytes", {"bytes": int(value)})
            return Message(f"{_KEY}.size.scaled", {"value": value, "unit": unit})
        value /= 1024
    raise AssertionError("unreachable: GiB ends the loop")


def parameter_count(n: float | None) -> Message:
    """The parameter count: exact below a million, else in millions with one decimal."""
    if n is None:
        return Message(f"{_KEY}.parameters.unknown")
    if n >= 1e6:
        return Message(f"{_KEY}.parameters.millions", {"millions": n / 1e6})
    return Message(f"{_KEY}.parameters.exact", {"count": int(n)})

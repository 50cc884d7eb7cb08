"""Which of a dimension's checks an audit did not run, so a rating never looks fuller than it is.

A dimension's rating counts only the checks that ran (auditor.ratings). A quick audit rates
"Information flow" on the representation and smoothing checks alone; the tile, the board page and
the findings say which checks were not run (not in the template, skipped, not applicable, or
failed to run). The list of checks per dimension is written out here, not read from the check
registry, because importing every check module costs the desktop client half a second; a unit test
(tests/unit/test_coverage.py) keeps it equal to the registry.
"""
from __future__ import annotations

from auditor.messages import Message

# every check this version has, by the dimension it reports on (auditor.checks.*: `dimension`)
CHECKS_BY_DIMENSION: dict[str, tuple[str, ...]] = {
    "flow": ("flow.representation", "flow.smoothing", "flow.pde"),
    "retention": ("bottleneck.information_plane",),
    "robustness": ("perturbation.sensitivity", "perturbation.counterfactual"),
    "trainability": ("gradients.flow",),
    "transparency": ("attention.structure", "sanity.randomization"),
    "integrity": ("artifact.integrity", "artifact.parity"),
}
_RAN = ("pass", "warn", "fail", "inconclusive", "info")


def not_run(statuses: dict[str, str], dimension: str) -> tuple[str, ...]:
    """The dimension's checks that produced no conclusion in this audit: absent from `statuses`
    ({check id: status} of the evaluation shown) or there with skipped / not_applicable / error."""
    return tuple(c for c in CHECKS_BY_DIMENSION.get(dimension, ()) if str(statuses.get(c, "")) not in _RAN)


def statuses_of(view: object) -> dict[str, str]:
    """{check id: status} of an AuditView (anything with `.checks` of objects with `.id` and `.status`)."""
    return {c.id: str(c.status) for c in getattr(view, "checks", ())}


def coverage_message(statuses: dict[str, str], dimension: str) -> Message | None:
    """'2 of 3 checks ran; not run: Continuous-flow surrogate' (coverage.partial), or None when all ran.
    A dimension where none ran says so (coverage.none): its rating is not_assessed."""
    total = CHECKS_BY_DIMENSION.get(dimension, ())
    missing = not_run(statuses, dimension)
    if not missing:
        return None
    names = [Message(f"check.{c}.title") for c in missing]
    if len(missing) == len(total):
        return Message("coverage.none", {"checks": names})
    return Message("coverage.partial", {"ran": len(total) - len(missing), "total": len(total), "checks": names})

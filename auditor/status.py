"""One vocabulary for how a rule, a check, a dimension and an audit came out, with one order.

Statuses of a finding (its severity), of a check, of a dimension's rating and of an audit's
verdict all come from this type, so the order "how bad is it" is defined once:

    pass = info = not_applicable = skipped  <  warn  <  error  <  inconclusive  <  fail

`inconclusive` means the evidence needed to decide was not measured (a required check was
skipped or failed to run, too few probes, a figure whose own evidence is insufficient). It sits
above warn and error because a gate must never pass what was not measured, and below fail
because a measured failure is a conclusion of its own.
"""
from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class Status(str, Enum):
    PASS = "pass"
    INFO = "info"                      # an efficiency opportunity or a note; never changes a verdict
    NOT_APPLICABLE = "not_applicable"  # the method does not apply to this model
    SKIPPED = "skipped"
    WARN = "warn"
    ERROR = "error"
    INCONCLUSIVE = "inconclusive"
    FAIL = "fail"
    NOT_ASSESSED = "not_assessed"      # a dimension no check of the template looked at

    # the plain string in f-strings, JSON and SQLite, whatever the Python version
    __str__ = str.__str__
    __format__ = str.__format__

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def of(cls, value: str | Status | None) -> Status | None:
        """The Status for a stored string; None for None or an unknown word."""
        if value is None:
            return None
        try:
            return cls(value)
        except ValueError:
            return None


_RANK = {Status.PASS: 0, Status.INFO: 0, Status.NOT_APPLICABLE: 0, Status.SKIPPED: 0, Status.NOT_ASSESSED: 0,
         Status.WARN: 1, Status.ERROR: 2, Status.INCONCLUSIVE: 3, Status.FAIL: 4}

# what an audit's verdict and a dimension's rating can be
VERDICTS = (Status.PASS, Status.WARN, Status.INCONCLUSIVE, Status.FAIL)
# statuses that count towards a check's status or a verdict (info, n/a and skips do not)
COUNTED = frozenset({Status.PASS, Status.WARN, Status.ERROR, Status.INCONCLUSIVE, Status.FAIL})


def rank(value: str | Status | None) -> int:
    """The rank of a stored status string (0 for unknown words and None)."""
    status = Status.of(value)
    return status.rank if status is not None else 0


def worst(statuses: Iterable[str | Status]) -> Status:
    """The worst counted status; `pass` when none counts."""
    counted = [s for s in (Status.of(v) for v in statuses) if s in COUNTED]
    return max(counted, key=lambda s: s.rank, default=Status.PASS)


def verdict_of(statuses: Iterable[str | Status]) -> Status:
    """An audit verdict (or dimension rating) from check statuses: a check that raised without
    being required counts as a warning; skips, info and n/a do not count."""
    found = worst(statuses)
    return Status.WARN if found is Status.ERROR else found


def status_of_check(outcome: str, severities: Iterable[str]) -> Status:
    """A check's status from how its run ended (ok | skipped | error) and its findings' severities.

    `skipped` or `error` as the run ended, unless the template required the check (then its
    finding is inconclusive, and so is the check); otherwise the worst of its rules' outcomes.
    """
    severities = list(severities)
    if outcome in ("skipped", "error"):
        return Status.INCONCLUSIVE if Status.INCONCLUSIVE in severities else Status(outcome)
    return worst(s for s in severities if s != "info")


def fails_gate(verdict: str | None, fail_on: str | None) -> bool:
    """Whether `--fail-on` stops on this verdict: warn stops on warn, inconclusive and fail; fail on
    inconclusive and fail. A gate never passes what was not measured, so no verdict at all fails too."""
    if fail_on is None:
        return False
    if verdict is None:
        return True
    threshold = Status.WARN if fail_on == "warn" else Status.INCONCLUSIVE
    return rank(verdict) >= threshold.rank

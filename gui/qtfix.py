"""A workaround for a reference-count bug in PySide6 6.12.0 on Python 3.11.

There, every call of a Python slot from Qt (a button click, a timer tick, a signal from the worker)
releases one reference to None that it never took, and every Python-side `Signal.emit()` does the
same to the bool it returns. Before Python 3.12, None, True and False are ordinary reference-counted
objects, so after some thousands of slot calls the process aborts ("Fatal Python error:
none_dealloc" / "bool_dealloc"): a long audit with a progress bar would take the window down.

`apply()` measures the bug once; only where it is present does it give None, True and False a
large reserve of references, which is what Python 3.12 does for them anyway (immortal objects).
The lead should still pin PySide6 to a release without the bug.
"""
from __future__ import annotations

import ctypes
import sys

RESERVE = 1 << 40          # ~10^12 slot calls: more than any session makes
_applied = False


def _probe() -> bool:
    from PySide6.QtCore import QObject, Signal

    class Probe(QObject):
        ping = Signal()

    probe = Probe()
    probe.ping.connect(lambda: None)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(32):
        probe.ping.emit()
    return none_before - sys.getrefcount(None) >= 32 or true_before - sys.getrefcount(True) >= 32


def apply() -> bool:
    """Returns True when the bug was found and the reserve given (once per process)."""
    global _applied
    if _applied or sys.version_info >= (3, 12) or not hasattr(sys, "getrefcount"):
        return _applied
    if _probe():
        for obj in (None, True, False):
            ctypes.c_ssize_t.from_address(id(obj)).value += RESERVE   # ob_refcnt is PyObject's first field
        _applied = True
    return _applied

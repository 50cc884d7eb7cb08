"""The audit fingerprint: SHA-256 of a canonical JSON of everything an audit stored."""
from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(content: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: the same content always gives the same bytes."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def fingerprint_of(content: Any) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()

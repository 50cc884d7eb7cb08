"""Reading wheels: name, version, licence and dependencies from METADATA; file hashes.

Standard library only, so the wheelhouse can be built (and its tests run) with any Python 3.10+.
"""
from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

# the licence families an IT department usually has to look at before approving
_PROPRIETARY = ("proprietary", "licenseref", "nvidia", "commercial", "eula")
_STRONG_COPYLEFT = ("agpl", "gpl", "general public license")
_WEAK_COPYLEFT = ("lgpl", "lesser general public", "library general public", "mpl", "mozilla", "epl", "eclipse",
                  "cddl")
_PERMISSIVE = ("mit", "bsd", "apache", "isc", "psf", "python", "unlicense", "zlib", "hpnd", "bsl-1.0", "boost",
               "0bsd", "cc0", "historical permission", "public domain", "ofl", "open font")
_SHORT_LICENSE = 120   # a License field longer than this (or multi-line) is the licence text, not its name


@dataclass(frozen=True)
class WheelInfo:
    """What one wheel says about itself."""

    filename: str
    name: str
    version: str
    license: str
    license_source: str
    license_files: tuple[str, ...]
    requires: tuple[str, ...]
    summary: str = ""
    homepage: str = ""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name (what pip compares)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_metadata(wheel: Path) -> dict[str, list[str]]:
    """Every METADATA header of `wheel`, as lists (Classifier and Requires-Dist repeat)."""
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if not names:
            raise ValueError(f"{wheel.name}: no .dist-info/METADATA inside; not a wheel")
        text = archive.read(names[0]).decode("utf-8", errors="replace")
    message = HeaderParser().parsestr(text, headersonly=True)
    headers: dict[str, list[str]] = {}
    for key, value in message.items():
        headers.setdefault(key.lower(), []).append(str(value).strip())
    return headers


def licence_of(headers: dict[str, list[str]]) -> tuple[str, str]:
    """(licence, where it came from): License-Expression, else a short License, else classifiers."""
    expression = _first(headers, "license-expression")
    if expression:
        return expression, "License-Expression"
    plain = _first(headers, "license")
    if plain and "\n" not in plain and len(plain) <= _SHORT_LICENSE and plain.upper() != "UNKNOWN":
        return plain, "License"
    classifiers = [c.split("::")[-1].strip() for c in headers.get("classifier", []) if c.startswith("License ::")]
    if classifiers:
        return " AND ".join(classifiers), "classifier"
    if plain:
        return "see the licence text in the wheel", "License (full text)"
    return "UNKNOWN", "none"


def review_class(licence: str) -> str:
    """permissive | weak-copyleft | copyleft | proprietary | unknown (a first sort, not legal advice)."""
    text = licence.lower()
    for words, verdict in ((_PROPRIETARY, "proprietary"), (_WEAK_COPYLEFT, "weak-copyleft"),
                           (_STRONG_COPYLEFT, "copyleft"), (_PERMISSIVE, "permissive")):
        if any(re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) for word in words):
            return verdict
    return "unknown"


def wheel_info(wheel: Path) -> WheelInfo:
    headers = read_metadata(wheel)
    licence, source = licence_of(headers)
    urls = headers.get("project-url", [])
    homepage = _first(headers, "home-page") or (urls[0].split(",", 1)[-1].strip() if urls else "")
    return WheelInfo(filename=wheel.name, name=_first(headers, "name"), version=_first(headers, "version"),
                     license=licence, license_source=source,
                     license_files=tuple(headers.get("license-file", [])),
                     requires=tuple(headers.get("requires-dist", [])),
                     summary=_first(headers, "summary"), homepage=homepage)


def wheel_tags(filename: str) -> tuple[str, str, str]:
    """(python tag, abi tag, platform tag) from a wheel file name (PEP 427)."""
    parts = filename[:-len(".whl")].split("-")
    if len(parts) < 5:
        raise ValueError(f"{filename}: not a wheel file name")
    return parts[-3], parts[-2], parts[-1]


def min_glibc(filenames: list[str]) -> str | None:
    """The newest glibc that any manylinux wheel here needs (e.g. '2.28'), or None."""
    best: tuple[int, int] | None = None
    for name in filenames:
        for tag in wheel_tags(name)[2].split("."):
            match = re.match(r"manylinux_(\d+)_(\d+)_", tag)
            version = (int(match[1]), int(match[2])) if match else _legacy_manylinux(tag)
            if version and (best is None or version > best):
                best = version
    return f"{best[0]}.{best[1]}" if best else None


def _legacy_manylinux(tag: str) -> tuple[int, int] | None:
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    return next((v for k, v in legacy.items() if tag.startswith(k + "_")), None)


def _first(headers: dict[str, list[str]], key: str) -> str:
    values = headers.get(key)
    return values[0] if values else ""

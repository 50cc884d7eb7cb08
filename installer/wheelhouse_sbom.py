"""components.json: an SBOM-style list of every wheel, bundled font and licence term, with sizes."""
from __future__ import annotations

import fnmatch
import hashlib
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wheelhouse_meta import WheelInfo, canonical_name, review_class, sha256_of

FORMAT = "transformer-auditor-components/1"
FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".woff", ".woff2")


def wheel_component(path: Path, info: WheelInfo, root: Path) -> dict[str, Any]:
    return {
        "type": "python-wheel",
        "name": info.name,
        "version": info.version,
        "purl": f"pkg:pypi/{canonical_name(info.name)}@{info.version}",
        "file": path.relative_to(root).as_posix(),
        "sha256": sha256_of(path),
        "size": path.stat().st_size,
        "license": info.license,
        "license_source": info.license_source,
        "license_review": review_class(info.license),
        "license_files": list(info.license_files),
        "homepage": info.homepage,
    }


def font_components(app_wheel: Path, font_terms: list[dict[str, Any]], root: Path) -> list[dict[str, Any]]:
    """The font files inside the app's wheel, with their licence from extra_components.json."""
    by_file = {entry["file"]: entry for entry in font_terms}
    fonts = []
    with zipfile.ZipFile(app_wheel) as archive:
        for member in archive.infolist():
            if not member.filename.lower().endswith(FONT_SUFFIXES):
                continue
            data = archive.read(member)
            terms = by_file.get(Path(member.filename).name, {})
            licence = terms.get("license", "UNKNOWN: add this font to installer/extra_components.json")
            fonts.append({
                "type": "font",
                "name": terms.get("name", Path(member.filename).stem),
                "version": terms.get("version", ""),
                "file": f"{app_wheel.relative_to(root).as_posix()}!/{member.filename}",
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "license": licence,
                "license_review": review_class(licence) if terms else "unknown",
                "source": terms.get("source", ""),
            })
    return fonts


def term_components(entries: list[dict[str, Any]], present: set[str]) -> list[dict[str, Any]]:
    """The licence terms whose `applies_to` packages (names or patterns such as nvidia-*) are present."""
    chosen = []
    for entry in entries:
        patterns = [canonical_name(name) for name in entry.get("applies_to", [])]
        if not patterns or any(fnmatch.fnmatchcase(name, pattern) for name in present for pattern in patterns):
            chosen.append({k: v for k, v in entry.items() if not k.startswith("_")})
    return chosen


def load_extra(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {"components": data.get("components", []), "fonts": data.get("fonts", [])}


def review_summary(components: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """Names per licence class other than permissive: what a reviewer reads first."""
    summary: dict[str, list[str]] = {}
    for item in components:
        verdict = item.get("license_review", "unknown")
        if verdict != "permissive" and item.get("role") != "application":
            label = f"{item['name']} {item.get('version', '')}".strip()
            summary.setdefault(verdict, []).append(f"{label}: {item.get('license', '')}")
    return summary


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    return f"{size} B"


def document(wheels: list[dict[str, Any]], fonts: list[dict[str, Any]], terms: list[dict[str, Any]],
             target: dict[str, Any]) -> dict[str, Any]:
    total = sum(w["size"] for w in wheels)
    everything = [*wheels, *fonts, *terms]
    return {
        "format": FORMAT,
        "target": target,
        "components": everything,
        "component_count": {"python-wheel": len(wheels), "font": len(fonts), "licence-terms": len(terms)},
        "total_size_bytes": total,
        "total_size": human_size(total),
        "licence_review": review_summary(everything),
    }

"""Every comment that cites a design document cites a file in docs/ that exists, and a section it has."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = ("auditor", "gui", "reports", "tests", "bench", "installer")
# "docs/METHODS.md, flow.pde" or "(METHODS.md)": the file, and the section named after it if any
CITATION = re.compile(r"(?P<path>(?:docs/)?(?:ARCHITECTURE|METHODS|REPORTS|MISSION|EXAMPLES)\.md)(?:, (?:\"|')?(?P<section>[A-Za-z][\w .()-]*?)(?:\"|')?[),;]|\b)")


def _citations() -> list[tuple[str, str, str | None]]:
    found = []
    for package in CODE:
        for source in sorted((ROOT / package).rglob("*.py")):
            if source == Path(__file__).resolve():
                continue
            for match in CITATION.finditer(source.read_text(encoding="utf-8")):
                found.append((str(source.relative_to(ROOT)), match["path"], match["section"]))
    return found


def _headings(doc: Path) -> str:
    """Its headings and the bold terms that open a list item ("- **Runner** ...", "4. **Runner** ...")."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    return "\n".join(line.lower() for line in lines
                     if line.startswith("#") or re.match(r"\s*(?:[-*]|\d+\.) \*\*", line))


def test_code_cites_the_documents_in_docs_and_their_sections():
    citations = _citations()
    assert len(citations) > 30        # the code does cite its design; an empty scan would pass anything
    wrong = []
    for where, path, section in citations:
        doc = ROOT / path
        if not path.startswith("docs/") or not doc.is_file():
            wrong.append(f"{where}: {path} (cite docs/<NAME>.md, a file in the repository)")
        elif section and section.strip().lower() not in _headings(doc):
            wrong.append(f"{where}: {path} has no section {section.strip()!r}")
    assert not wrong, "\n".join(wrong)

"""Findings as JUnit XML, so CI systems show an audit like a test run."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET


def write_junit(audit: dict[str, Any], target: Path) -> None:
    findings = audit.get("findings", [])
    suite = ET.Element("testsuite", name=f"audit {audit['audit_id']}", tests=str(len(findings)),
                       failures=str(sum(f["severity"] == "fail" for f in findings)),
                       # not measured is never a pass: an inconclusive finding is a JUnit error
                       errors=str(sum(f["severity"] in ("error", "inconclusive") for f in findings)),
                       skipped=str(sum(f["severity"] == "info" for f in findings)))
    for f in findings:
        case = ET.SubElement(suite, "testcase", classname=f["check_id"], name=f["title"])
        if f["severity"] == "fail":
            ET.SubElement(case, "failure", message=f["detail"]).text = f["meaning"]["en"]
        elif f["severity"] == "error":
            ET.SubElement(case, "error", message=f["detail"])
        elif f["severity"] == "inconclusive":
            ET.SubElement(case, "error", type="inconclusive",
                          message=f"inconclusive: {f['detail']}").text = f"{f['meaning']['en']} {f['action']}"
        elif f["severity"] == "info":
            ET.SubElement(case, "skipped", message=f["detail"])
        elif f["severity"] == "warn":
            ET.SubElement(case, "system-out").text = f"WARNING: {f['detail']}"
    target.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(target, encoding="utf-8", xml_declaration=True)

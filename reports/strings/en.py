"""English text blocks for the reports."""
from __future__ import annotations

TEXT: dict = {
    "classification": "Confidential",
    "footer": "Report {rid}  ·  {model} {version}  ·  Page {page} of {pages}  ·  {classification}  ·  "
              "Fingerprint {fp16}",
    "draft_mark": "DRAFT",
    "draft_line": "DRAFT: not a final report; the audit is {status}",
    "owners": {"flow": "Model development team", "retention": "Model development team",
               "robustness": "Model validation team", "trainability": "Model development team",
               "transparency": "Model validation team", "integrity": "Model owner / IT security",
               "other": "Model owner"},
    "impact": {"fail": "High: a pre-declared limit is breached", "warn": "Medium: near a pre-declared limit",
               "error": "Unknown: the check could not run",
               "inconclusive": "Unknown: the evidence to decide was not measured"},
    # board
    "board_title": "Model audit: board summary",
    "model": "Model", "version": "Version", "date": "Date", "decision_requested": "Decision requested",
    "overall": "Overall rating", "dimension_h": "Dimension", "trend_h": "Trend", "purpose": "What the model is for",
    "not_recorded": "not recorded in the audit", "dimensions_title": "Ratings by dimension",
    "river_title": "The information river: how much of the input's information each layer still carries",
    "river_legend": ("information carried", "task information", "marked loss", "idle layer"),
    "river_axis": "layer (0 = embeddings)",
    "river_note": "Width = share of the input's information still carried (KDE estimate of I(X;T) divided by that of the input "
                  "itself); "
                  "the dark core = information about the task labels. Estimates, not exact values: see the full "
                  "report, section 8.",
    "risks_title": "Top risks", "risk": "Risk", "impact_h": "Impact", "owner": "Suggested owner",
    "no_risks": "No check breached or came near a pre-declared limit.",
    "efficiency_title": "Efficiency opportunity", "no_efficiency": "None found in this audit.",
    "decision_title": "Decision",
    "open_actions": "Open actions: {n} finding(s) at warn, fail or inconclusive need an owner and a due date.",
    "risks_inconclusive": "{n} finding(s) are inconclusive (evidence missing): each is listed under the overall rating.",
    "no_measured_risks": "No measured figure breached or came near a pre-declared limit; that is not a pass while "
                         "evidence is missing.",
    "missing_more": "… and {n} more: every finding is listed in the full report, section 7.",
    "no_open_actions": "Open actions: none.",
    "signed": "Signed", "name_date": "Name and date",
    "incomplete_banner": "INCOMPLETE AUDIT ({status}): {detail}",
    "missing_checks": "Not assessed: {checks}.",
    "evidence_line": "Audit fingerprint (SHA-256): {fp}",
    # full report
    "full_title": "Model audit report",
    "sections": ["0. Control block", "1. Executive summary", "2. Model identity", "3. Intended purpose and users",
                 "4. Scope and method", "5. Pre-declared thresholds", "6. Results by check", "7. Findings register",
                 "8. Limitations", "9. Robustness and security notes", "10. Change since the previous audit",
                 "11. Reproducibility appendix", "12. Mapping to frameworks", "13. Sign-off"],
    "control": {"report_id": "Report ID", "classification": "Classification", "tool": "Tool version",
                "audit_id": "Audit ID", "status": "Audit status", "template": "Template (version)",
                "template_sha": "Template SHA-256", "evaluation": "Evaluation", "fingerprint":
                "Audit fingerprint (SHA-256)", "generated": "Report generated", "preparer": "Preparer",
                "language": "Language"},
    "fingerprint_mismatch": "Warning: the fingerprint stored with the audit ({stored}) does not match the stored rows "
                            "as read now; the rows changed after the audit was made.",
    "exec_intro": "Overall rating: {verdict}. {n_checks} checks ran; {n_pass} passed, {n_warn} warned, {n_fail} "
                  "failed, {n_inconclusive} inconclusive, {n_other} could not be assessed.",
    "exec_findings": "Findings at warn, fail or inconclusive:",
    "exec_none": "No finding reached warn or fail, and none is inconclusive.",
    "identity": {"name": "Name", "version": "Version", "format": "Format", "architecture": "Architecture",
                 "parameters": "Parameters", "layers": "Layers", "heads": "Attention heads",
                 "hidden": "Hidden size", "dtype": "Weights dtype", "pooling": "Pooling",
                 "manifest": "Manifest hash (model.sha256)", "files": "Files", "provenance": "Provenance notes",
                 "path": "Path", "size": "Bytes", "sha": "SHA-256"},
    "purpose_fields": {"purpose": "Intended purpose", "users": "Intended users", "out_of_scope": "Out-of-scope uses",
                       "decision_requested": "Decision requested", "preparer": "Prepared by"},
    "scope_intro": "Each check below was pre-declared in the template before the model was run. Checks read the "
                   "model's internal states on a probe set; they are not tests of accuracy on production data.",
    "probes": {"spec": "Probe set", "count": "Probes", "sha": "Probe-set SHA-256", "kind": "Kind",
               "labels": "Labels", "content_note": "Probe text is not reproduced in this report; the database "
               "keeps the probe set's hash."},
    "check_h": "Check", "why_h": "Why it is there", "status_h": "Result",
    "thresholds_intro": "The template fixes these limits before any model is run. A reviewer can compare them with "
                        "the organisation's risk appetite.",
    "th": {"check": "Check", "metric": "Metric", "rule": "Thresholds", "rationale": "Rationale"},
    "no_conditions": "No conditions recorded for this audit's template.",
    "results": {"summary": "Summary", "verdict": "Verdict", "meaning": "Meaning", "figures": "Figures against "
                "thresholds", "metric": "Metric", "value": "Measured", "threshold": "Threshold",
                "baseline": "Baseline comparison", "all_metrics": "All stored figures", "duration": "Run time",
                "skipped": "This check was skipped: {why}",
                "inconclusive": "This check is required by the template but did not run: {why}",
                "error": "This check did not run to completion: {why}",
                "missing": "This check was not run in this audit.", "where": "where"},
    "reg": {"sev": "Severity", "finding": "Finding", "action": "Recommended action", "owner": "Owner", "due": "Due",
            "blank": "—"},
    "limitations": [
        "These checks look inside the model on a probe set. They are not tests of accuracy, fairness or calibration "
        "on production data, and passing them does not show that the model's decisions are correct or fair.",
        "Mutual-information figures depend on the estimator and its noise or bandwidth (a deterministic network's "
        "mutual information is not well defined). Findings therefore rest on trends and on the agreement of "
        "several estimators, not on a single number.",
        "Results hold for the probe set used ({probes}); inputs unlike the probes may behave differently. The "
        "probe set's size and hash are recorded in section 4.",
        "The continuous-flow (PDE) picture is a surrogate fitted on held-out probes; its figures are shown beside "
        "trivial baselines and explain only part of each layer's change.",
        "Head importance and gradients use a loss defined for the audit (e.g. a probe head fitted on the final "
        "layer where the model has no head of its own); they describe that loss, not every possible use.",
    ],
    "security": {"intro": "Artifact integrity and parity:", "sha": "The manifest hash above identifies the exact "
                 "files audited; compare it with the deployed artifact before relying on this report.",
                 "parity_skipped": "Parity with a deployed export was not checked in this audit (no reference "
                 "model was given).", "custom_code": "Custom code in the model folder",
                 "external": "External data files", "custom_ops": "Custom operators", "yes_no": ("no", "yes")},
    "change": {"none": "No previous completed audit of this model is stored; this is the first.",
               "intro": "Compared with audit {prev} of the same model:",
               "summary": "{improved} figure(s) improved, {worse} got worse, {unchanged} unchanged.",
               "metric": "Figure", "a": "Previous", "b": "This audit", "delta": "Change", "direction": "Direction",
               "verdicts": "Verdict: {a} → {b}",
               "template": "{name} v{version} (SHA-256 {sha})",
               "templates": "Templates: previous audit (A) {a}; this audit (B) {b}.",
               "warning": "Not comparable as a whole: what was not measured the same way in both audits is marked "
                          "“not compared”, never better, worse or resolved.",
               "not_compared": "{n} figure(s) not compared (measured under other conditions or in one audit only).",
               "verdict_not_compared": "(the verdicts are not compared)"},
    "repro": {"os": "Operating system", "python": "Python", "device": "Device", "dtype": "Precision",
              "dtype_asked": "asked for: {asked}", "seed": "Seed",
              "batch": "Batch size", "template_sha": "Template SHA-256", "started": "Started", "finished": "Finished",
              "audit_id": "Audit record ID", "evaluation_id": "Evaluation record ID", "db": "Database",
              "versions": "Library versions", "timings": "Timings (s)"},
    "frameworks_intro": "Where the evidence in this report supports each framework requirement. The mapping shows "
                        "coverage, not compliance: the accountable officer decides whether the evidence suffices.",
    "fw": {"framework": "Framework and clause", "requirement": "What it asks (paraphrased)",
           "where": "Where this report answers it"},
    "frameworks": [
        ("EU AI Act, Annex IV 2(b)", "Design specifications: the general logic of the system and its algorithms.",
         "2, 6 (flow and attention checks)"),
        ("EU AI Act, Annex IV 2(g)", "Validation and testing procedures and data; metrics for accuracy and "
         "robustness; test logs and reports dated and signed by the responsible persons.", "4, 5, 6, 11, 13"),
        ("NIST AI RMF, MEASURE 2.1", "Test sets, metrics and details of the tools used during testing are "
         "documented.", "4, 11"),
        ("NIST AI RMF, MEASURE 2.5", "The system is shown to be valid and reliable; limits of generalisation are "
         "documented.", "6, 8"),
        ("NIST AI RMF, MEASURE 2.7", "Security and resilience are evaluated and documented.", "6 (perturbation), 9"),
        ("NIST AI RMF, MEASURE 2.9", "The model is explained, validated and documented; outputs are interpreted in "
         "context.", "6, 8"),
        ("ISO/IEC 42001, Annex A A.6.2.4", "Verification and validation measures for the AI system are defined and "
         "documented, with criteria for their use.", "5, 6"),
        ("ISO/IEC 42001, Annex A A.6.2.7", "Technical documentation is provided to interested parties, such as "
         "supervisory authorities, in an appropriate form.", "whole report"),
        ("SR 11-7, validation: conceptual soundness", "Evaluation of the model's design and construction, with "
         "developmental evidence.", "4, 6 (including the sanity check)"),
        ("SR 11-7, validation: ongoing monitoring", "Process verification and benchmarking over time.", "10"),
        ("SR 11-7, validation: outcomes analysis", "Comparison of model outputs with actual outcomes "
         "(back-testing).", "not covered: see 8"),
    ],
    "signoff_intro": "Each role signs with the tool (`auditor sign`) or by hand below. Blank lines are not yet signed.",
    "signoff": {"role": "Role", "name": "Name", "decision": "Decision", "date": "Date"},
    "events_title": "Audit history (append-only event log)",
    "ev": {"at": "When", "actor": "Who", "kind": "What", "detail": "Detail"},
    "generic_check_why": "A check added to the template; its stored figures are listed below.",
    "generic_check_meaning": "See the check's documentation for what its figures mean.",
    "value_words": {"mean": "mean", "max": "max", "last": "last"},
    "evaluation_reason": {"initial": "initial", "re-evaluated": "re-evaluated"},
    "event_kinds": {"created": "created", "completed": "completed", "failed": "failed", "cancelled": "cancelled",
                    "interrupted": "interrupted", "signed": "signed", "assigned": "assigned",
                    "re-evaluated": "re-evaluated", "reported": "reported"},
    "language_name": "English",
}

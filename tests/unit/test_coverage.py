"""auditor.coverage: the written-out check list equals the registry, and a partial dimension says so."""
from auditor import coverage
from auditor.checks import registry
from auditor.messages import render


def test_checks_by_dimension_equals_the_registry() -> None:
    written = {c: d for d, checks in coverage.CHECKS_BY_DIMENSION.items() for c in checks}
    assert written == {cid: cls.dimension for cid, cls in registry.load_all().items()}


def test_quick_flow_names_the_surrogate_it_did_not_run() -> None:
    statuses = {"flow.representation": "pass", "flow.smoothing": "pass", "gradients.flow": "pass"}
    assert coverage.not_run(statuses, "flow") == ("flow.pde",)
    en = render(coverage.coverage_message(statuses, "flow"), "en")
    assert en.startswith("2 of 3 checks ran; not run: ") and "Continuous-flow" in en
    ja = render(coverage.coverage_message(statuses, "flow"), "ja")
    assert "3件中2件" in ja and "未実行" in ja


def test_skipped_and_errors_are_not_run_and_a_full_dimension_has_no_line() -> None:
    statuses = {"flow.representation": "pass", "flow.smoothing": "skipped", "flow.pde": "error"}
    assert coverage.not_run(statuses, "flow") == ("flow.smoothing", "flow.pde")
    assert coverage.coverage_message({"gradients.flow": "warn"}, "trainability") is None
    assert render(coverage.coverage_message({}, "retention"), "en").startswith("no check ran")

"""perturbation.sensitivity in bfloat16: noise sizes the dtype cannot resolve are said to be not measurable,
never given as numbers, and the amplification comes from a size that is (auditor.models.precision_noise)."""
from __future__ import annotations

from auditor import api
from tests.fixtures.templates import no_minimum


def _perturbation(tiny_bert, tmp_path, dtype: str) -> dict:
    db = tmp_path / f"{dtype}.db"
    audit_id = api.run_audit(api.AuditRequest(model=str(tiny_bert), template=no_minimum("standard"), db=str(db),
                                              limit=40, device="cpu", dtype=dtype))
    data = api.show_audit(audit_id, str(db))
    return next(c for c in data["checks"] if c["id"] == "perturbation.sensitivity")


def test_bfloat16_leaves_out_the_noise_sizes_it_cannot_measure_and_says_so(tiny_bert, tmp_path):
    half = _perturbation(tiny_bert, tmp_path, "bfloat16")
    full = _perturbation(tiny_bert, tmp_path, "float32")
    said = [s for s in half["sentences"] if s["key"] == "precision.eps_not_measurable"]
    # 3 blocks in bfloat16: rounding reaches 1.5 * 2^-8 * sqrt(3) = 1.0% of the state, so eps 0.01 cannot be read
    assert said and "0.01" in said[0]["params"]["eps"] and said[0]["params"]["dtype"] == "bfloat16"
    assert "0.01 is not measurable in bfloat16" in half["summary"] or "0.01, " in half["summary"]
    assert "0.01" not in (half["metrics"]["amplification_by_eps"] or {})
    assert "0.01" in full["metrics"]["amplification_by_eps"]
    assert not [s for s in full["sentences"] if s["key"] == "precision.eps_not_measurable"]
    measured = half["metrics"]["amplification_by_eps"] or {}
    if measured:   # the headline then comes from a measured size, never from one left out
        assert half["metrics"]["amplification"] in measured.values()
    else:
        assert half["metrics"]["amplification"] is None

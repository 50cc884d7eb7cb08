"""Finding detail lines in Japanese, rebuilt from the stored fields; English stays as stored."""
from reports.finding_text import finding_detail, place

WARN = {"check_id": "flow.pde", "key": "flow.unexplained_step", "severity": "warn", "metric": "pde_r2",
        "value": 0.1281, "layer": 3,
        "detail": "pde_r2 (any_layer) = 0.1281 at block 4; warn below 0.1 (warning threshold crossed)",
        "condition": {"condition": "below", "metric": "pde_r2", "reduce": "any_layer", "warn": 0.15}}


def test_english_is_the_stored_line():
    assert finding_detail(WARN, "en") == WARN["detail"]


def test_japanese_carries_the_same_figures_and_the_block():
    text = finding_detail(WARN, "ja")
    assert "0.1281" in text and "ブロック4" in text and "0.15未満で注意" in text and "注意の閾値を超えています" in text


def test_places_for_steps_and_boundaries():
    assert place("pde_r2", 3, "flow.pde", "en") == "block 4"
    assert place("norm_growth", 0, "flow.representation", "ja") == "第0層（埋め込み）"
    assert place("norm_growth", 4, "flow.representation", "en") == "layer 4"


def test_not_applicable_info_and_unknown_shapes():
    na = {**WARN, "key": "condition.not_applicable", "severity": "info", "value": None, "layer": None}
    assert "算出できません" in finding_detail(na, "ja")
    info = {**WARN, "key": "opportunity.prunable_heads", "severity": "info", "metric": "prunable_attention_share",
            "value": 0.375, "layer": None,
            "condition": {"condition": "above", "metric": "prunable_attention_share", "info": 0.2}}
    assert "効率化の機会" in finding_detail(info, "ja") and "0.375" in finding_detail(info, "ja")
    broken = {"detail": "something English", "severity": "error", "condition": {"metric": "m"}}
    assert finding_detail(broken, "ja") == "something English"
    assert finding_detail({"detail": "x", "condition": "not a dict"}, "ja") == "x"

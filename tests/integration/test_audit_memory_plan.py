"""The memory plan inside a real audit: made before loading, stored in the environment, shown by `show`,
choosing the batch under --batch-size auto, and refusing (exit 2, one line, no database) a model whose
weights cannot fit, without reading them."""
from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.fixtures.templates import no_minimum

# a Llama of about 400 billion parameters: 1.5 TiB in float32, more than any machine running the tests has
HUGE = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 16384,
        "intermediate_size": 53248, "num_hidden_layers": 126, "num_attention_heads": 128, "num_key_value_heads": 8,
        "vocab_size": 128256, "max_position_embeddings": 4096, "torch_dtype": "bfloat16"}


def _audit(tiny_bert: Path, db: Path, *flags: str) -> dict:
    done = run_cli("audit", str(tiny_bert), "--template", no_minimum("quick"), "--db", str(db), "--limit", "40",
                   "--progress", "none", "--json", *flags)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_auto_batch_size_runs_with_the_plans_choice_and_show_says_so(tiny_bert, tmp_path):
    db = tmp_path / "a.db"
    data = _audit(tiny_bert, db, "--batch-size", "auto")
    env = data["environment"]
    plan = env["memory_plan"]
    assert plan["auto"] is True and env["batch_size"] == plan["batch_size"]
    # capped on the CPU (memory_plan.BATCH_CAP) and never above the probe count
    assert 1 <= plan["batch_size"] <= 32
    assert plan["device"] == "cpu" and plan["dtype"] == "float32" and plan["available_bytes"] > 0
    assert plan["weights_bytes"] == plan["parameters"] * 4 and plan["total_bytes"] > plan["weights_bytes"]
    shown = run_cli("show", data["audit_id"], "--db", str(db))
    assert f"Ran on:   cpu in float32, batch size {plan['batch_size']}" in shown.stdout
    assert f"Memory:   {plan['summary']}" in shown.stdout and "(auto)" in plan["summary"]


def test_a_given_batch_size_is_kept_and_bfloat16_halves_the_planned_weights(tiny_bert, tmp_path):
    db = tmp_path / "b.db"
    full = _audit(tiny_bert, db, "--batch-size", "8")["environment"]
    half = _audit(tiny_bert, db, "--batch-size", "8", "--dtype", "bfloat16")["environment"]
    assert full["batch_size"] == half["batch_size"] == 8 and full["memory_plan"]["auto"] is False
    assert (full["dtype"], half["dtype"], half["dtype_requested"]) == ("float32", "bfloat16", "bfloat16")
    assert half["memory_plan"]["dtype"] == "bfloat16"
    assert half["memory_plan"]["weights_bytes"] * 2 == full["memory_plan"]["weights_bytes"]


def test_weights_that_cannot_fit_are_refused_before_loading_with_one_line(tiny_bert, tmp_path):
    model = tmp_path / "huge"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(HUGE), encoding="utf-8")
    for tokenizer_file in tiny_bert.glob("tokenizer*"):
        (model / tokenizer_file.name).write_bytes(tokenizer_file.read_bytes())
    (model / "model.safetensors").write_bytes(b"not weights")   # never read: the plan comes first
    db = tmp_path / "c.db"
    done = run_cli("audit", str(model), "--template", no_minimum("quick"), "--db", str(db), "--limit", "40",
                   "--progress", "none")
    assert done.returncode == 2 and done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("auditor: needs 1511.9 GiB for the weights in float32; this machine has ")
    assert line.endswith("of memory available; try a machine with more memory")
    assert not db.exists()      # nothing was stored: no audit row, no database

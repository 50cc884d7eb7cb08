"""The time estimate before a run (auditor.estimate) and the progress reading during one (gui.estimate):
known durations in, known seconds out; the engine's own progress events mapped to phases."""
from __future__ import annotations

import json
import re

import pytest

from auditor.estimate import (
    DEFAULTS,
    REFERENCE,
    Plan,
    Sample,
    estimate,
    history,
    parameters_in,
)

STANDARD = ("artifact.integrity", "flow.representation", "flow.smoothing", "flow.pde", "bottleneck.information_plane",
            "perturbation.sensitivity", "perturbation.counterfactual", "gradients.flow", "attention.structure",
            "sanity.randomization", "artifact.parity")


def _sample(probes=100, parameters=1_000_000, sha="a" * 64, template="standard", skipped=(), **phases):
    return Sample(template=template, model_sha256=sha, parameters=parameters, probes=probes, device="cpu",
                  phases={k.replace("__", "."): v for k, v in phases.items()}, skipped=frozenset(skipped))


def test_without_history_the_measured_defaults_are_used_as_they_are_for_the_reference_model():
    plan = Plan(checks=STANDARD, probes=REFERENCE["probes"], parameters=REFERENCE["parameters"])
    got = estimate(plan)
    assert {p.source for p in got.phases} == {"default"} and got.samples == 0
    assert got.total == pytest.approx(sum(DEFAULTS.values()))
    assert 20 < got.total < 60            # MiniLM's standard audit on the development machine: about 35 s
    assert got.seconds("perturbation.sensitivity") == DEFAULTS["perturbation.sensitivity"]


def test_every_check_of_every_builtin_template_has_a_measured_default():
    from auditor.templates import list_templates

    ids = {c.id for t in list_templates() for c in t.checks}
    assert ids <= set(DEFAULTS), ids - set(DEFAULTS)


def test_stored_durations_are_scaled_by_probes_and_parameters():
    earlier = _sample(probes=100, parameters=1_000_000, load=8.0, capture=2.0,
                      perturbation__sensitivity=10.0, flow__pde=4.0)
    plan = Plan(checks=("perturbation.sensitivity", "flow.pde", "artifact.integrity"), probes=200,
                parameters=4_000_000, template="standard")
    got = estimate(plan, [earlier])
    assert got.seconds("perturbation.sensitivity") == pytest.approx(10.0 * 2 * 4)    # forward passes: n and P
    assert got.seconds("flow.pde") == pytest.approx(4.0 * 2 * 2)                      # statistics: n and sqrt(P)
    assert got.seconds("capture") == pytest.approx(2.0 * 2 * 4)
    assert got.seconds("load") == pytest.approx(8.0 * 4 ** 0.3)
    # never measured here: the default, scaled from MiniLM by the weights it hashes
    assert got.seconds("artifact.integrity") == pytest.approx(
        DEFAULTS["artifact.integrity"] * 4_000_000 / REFERENCE["parameters"])
    assert {p.key: p.source for p in got.phases}["flow.pde"] == "history" and got.samples == 1


def test_the_median_of_the_same_models_recent_runs_wins_and_its_skips_count_as_zero():
    mine = [_sample(flow__pde=s, sanity__randomization=0.0, skipped={"sanity.randomization"}) for s in (10, 12, 30)]
    other = _sample(sha="b" * 64, flow__pde=99.0, sanity__randomization=50.0)
    plan = Plan(checks=("flow.pde", "sanity.randomization"), probes=100, parameters=1_000_000, model_sha256="a" * 64)
    got = estimate(plan, [*mine, other])
    assert got.seconds("flow.pde") == 12.0 and got.seconds("sanity.randomization") == 0.0
    # another model: its skipped check tells nothing about this one, the run that measured it does
    skipped_there = _sample(sha="c" * 64, sanity__randomization=0.0, skipped={"sanity.randomization"})
    got = estimate(Plan(checks=("sanity.randomization",), probes=100, parameters=1_000_000),
                   [skipped_there, other])
    assert got.seconds("sanity.randomization") == 50.0


def test_the_same_template_is_preferred_to_other_templates():
    quick = _sample(sha="b" * 64, template="quick", perturbation__sensitivity=5.0)
    standard = _sample(sha="c" * 64, template="standard", perturbation__sensitivity=20.0)
    plan = Plan(checks=("perturbation.sensitivity",), probes=100, parameters=1_000_000, template="quick")
    assert estimate(plan, [standard, quick]).seconds("perturbation.sensitivity") == 5.0


def test_history_reads_durations_and_timings_of_completed_audits_only(tmp_path):
    from auditor.store import open_db, records

    db_file = tmp_path / "audits.db"
    db = open_db(db_file)
    template = dict(name="standard", version="2", sha256="0" * 64, source="builtin", text="name: standard\n")
    for status in ("completed", "cancelled"):
        audit_id = records.create_audit(
            db, identity={"sha256": "ab" * 32, "format": "transformers", "architecture": "BertModel",
                          "parameters": 5_000_000, "layers": 2},
            probes={"spec": "builtin:text", "sha256": "cd" * 32, "count": 120}, template=template, meta={},
            environment={}, seed=0, device="cpu", name="m", model_version="1")
        records.store_results(db, audit_id, [
            {"check_id": "flow.pde", "outcome": "ok", "duration_s": 2.5},
            {"check_id": "perturbation.sensitivity", "outcome": "ok", "duration_s": 6.0},
            {"check_id": "sanity.randomization", "outcome": "skipped", "duration_s": 0.0}])
        records.update_environment(db, audit_id, {"timings": {"load_s": 7.0, "checks_s": 11.5}})
        db["audits"].update(audit_id, {"status": status})
    db.conn.close()
    samples = history(db_file)
    assert len(samples) == 1
    got = samples[0]
    assert (got.template, got.parameters, got.probes, got.device) == ("standard", 5_000_000, 120, "cpu")
    assert got.phases == {"flow.pde": 2.5, "perturbation.sensitivity": 6.0, "sanity.randomization": 0.0,
                          "load": 7.0, "capture": 3.0}         # 11.5 s of checks, 8.5 s of them in the checks
    assert got.skipped == {"sanity.randomization"}
    assert history(tmp_path / "none.db") == []
    (tmp_path / "text.db").write_text("not sqlite")
    assert history(tmp_path / "text.db") == []


def test_parameters_are_counted_from_the_safetensors_header(tmp_path):
    header = json.dumps({"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                         "b": {"dtype": "F16", "shape": [4], "data_offsets": [24, 32]}}).encode()
    (tmp_path / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bytes(32))
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    assert parameters_in(tmp_path) == 10
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(bytes(400))
    assert parameters_in(onnx_file) == 100        # no header to read: float32 bytes


# ---- gui.estimate: the progress events of a run, as the engine writes them

def _engine_events() -> list[dict]:
    """The jsonl events the CLI writes for a capture pass and two checks (the same classes the CLI uses)."""
    from auditor.messages import Message
    from auditor.progress import Progress
    from auditor.runner import _step

    events: list[dict] = []
    bar = Progress(lambda f, text, said: events.append({"event": "progress", "fraction": f, "message": text,
                                                        **said.to_json()}))
    bar(0.01, Message("progress.audit.loading"))
    run = bar.slice(0.02, 0.95)
    capture = run.slice(0.0, 0.6, "capture", Message("progress.capture"))
    capture(0.5, Message("progress.capture.probes", {"done": 8, "total": 16}))
    for i, check in enumerate(("bottleneck.information_plane", "sanity.randomization")):
        part = run.slice(0.6 + i * 0.2, 0.2, check, _step(check))
        part(0.0, Message("progress.check.running"))
        part(0.5, "layer 3/6" if i == 0 else Message("progress.capture.probes", {"done": 4, "total": 16}))
        part(1.0, Message("progress.check.done"))
    bar(0.97, Message("progress.audit.storing"))
    return json.loads(json.dumps(events, default=lambda m: {"$message": m.to_json()}))


def test_engine_events_map_to_phases_in_plain_words():
    from gui.estimate import phase_of

    steps = [phase_of(e) for e in _engine_events()]
    assert [(s.phase, s.done) for s in steps] == [
        ("load", None), ("capture", 0.5),
        ("bottleneck.information_plane", 0.0), ("bottleneck.information_plane", 4 / 7),
        ("bottleneck.information_plane", 1.0),
        ("sanity.randomization", 0.0), ("sanity.randomization", 0.25), ("sanity.randomization", 1.0),
        ("store", None)]


def test_the_tracker_corrects_the_estimate_by_the_pace_measured_so_far():
    from gui.estimate import Tracker, phase_text, timing_text

    checks = ("bottleneck.information_plane", "sanity.randomization")
    plan = Plan(checks=checks, probes=REFERENCE["probes"], parameters=REFERENCE["parameters"])
    est = estimate(plan, [])
    tracker = Tracker(est, started=0.0, checks=checks)
    events = _engine_events()
    first_guess = tracker.remaining(0.0)
    assert first_guess == pytest.approx(est.total)
    tracker.update(events[0], now=5.0)                       # start took 5 s, estimated 2.5: pace 2
    assert tracker.pace() == pytest.approx(5.0 / DEFAULTS["start"])
    assert tracker.remaining(5.0) == pytest.approx((est.total - DEFAULTS["start"]) * 2.0)
    assert 0 < tracker.fraction(5.0) < 0.99
    tracker.update(events[1], now=6.0)                       # capture at 8 of 16 probes
    assert phase_text(tracker, "en") == "Capturing the layers: 8 of 16 probes"
    tracker.update(events[3], now=60.0)                      # the information plane, layer 3 of 6
    assert phase_text(tracker, "ja") == "チェック（2 件中 1 件目）：情報ボトルネック"
    shown = [tracker.fraction(t) for t in (60.0, 61.0, 500.0, 900.0)]
    assert shown == sorted(shown) and shown[-1] <= 0.99      # never backwards, never "done" before the end
    assert not re.search(r"[A-Za-z]{2,}", timing_text(tracker, 61.0, "ja"))


def test_past_the_estimate_the_time_line_says_so_instead_of_a_negative_time():
    from gui.estimate import Tracker, timing_text

    est = estimate(Plan(checks=(), probes=10, parameters=None), [])
    tracker = Tracker(est, started=0.0)
    assert tracker.remaining(est.seconds("start") * 0.5) is not None
    assert tracker.remaining(est.seconds("start") * 10) is None
    assert timing_text(tracker, 65.0, "en") == "Elapsed 1:05 · taking longer than estimated"
    assert timing_text(tracker, 1.0, "en") == "Elapsed 0:01 · about 10 s left"


@pytest.mark.parametrize("seconds, en, ja", [(4, "a few seconds", "数秒"), (42, "about 40 s", "約 40 秒"),
                                             (150, "about 3 min", "約 3 分"), (4000, "about 1 h 7 min", "約 1 時間 7 分")])
def test_durations_are_said_as_people_say_them(seconds, en, ja):
    from gui.estimate import duration_words

    assert duration_words(seconds, "en") == en and duration_words(seconds, "ja") == ja

"""Templates: built-ins load, user copies load by path, mistakes are one clear sentence."""
import pytest

from auditor.errors import BadInput
from auditor.templates import list_templates, load_template

GOOD = """
name: mine
version: 2
description: my copy
checks:
  - id: flow.representation
    conditions:
      - {condition: below, metric: update_ratio, reduce: any_layer, warn: 0.1}
"""


def test_standard_is_the_default_and_names_existing_checks():
    template = load_template(None)
    assert template.name == "standard"
    assert {"flow.representation", "artifact.integrity"} <= {c.id for c in template.checks}
    assert len(template.sha256) == 64
    assert all(c.conditions for c in template.checks)


def test_every_builtin_template_loads():
    assert [t.name for t in list_templates()]


def test_a_copy_runs_by_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD)
    template = load_template(str(path))
    assert (template.name, template.version, template.source) == ("mine", "2", str(path))
    assert template.checks[0].conditions[0].warn == 0.1


@pytest.mark.parametrize("text, problem", [
    (GOOD.replace("flow.representation", "flow.nothing"), "unknown check 'flow.nothing'"),
    (GOOD.replace("update_ratio", "speed"), "has no metric 'speed'"),
    (GOOD.replace("warn: 0.1", "warn: 0.1, fail: 0.5"), "milder"),
    (GOOD.replace("version: 2\n", ""), "missing 'version'"),
    ("just a string", "must be a mapping"),
    ("name: x\nversion: 1\nchecks: [", "not valid YAML"),
    ("a: &x [1, 2]\nb: *x\n", "not allowed"),
    ("name: x\nversion: 1\nchecks: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
])
def test_bad_templates_are_refused_with_the_reason(tmp_path, text, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(BadInput, match=problem) as info:
        load_template(str(path))
    assert "bad.yaml" in str(info.value)


def test_billion_laughs_is_refused_quickly(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines))
    with pytest.raises(BadInput, match="not allowed"):
        load_template(str(path))


def test_unknown_name_lists_the_builtins():
    with pytest.raises(BadInput, match="standard"):
        load_template("no-such-template")

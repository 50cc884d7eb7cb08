"""The wheelhouse builder's pieces without network: licences, target markers, fonts, terms."""
from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest

from tests.installer.helpers import INSTALLER

sys.path.insert(0, str(INSTALLER))
import wheelhouse_closure as closure  # noqa: E402
import wheelhouse_sbom as sbom  # noqa: E402
from wheelhouse_meta import WheelInfo, licence_of, min_glibc, review_class, wheel_info  # noqa: E402


@pytest.mark.parametrize(("licence", "expected"), [
    ("MIT", "permissive"),
    ("Apache-2.0 AND Apache-2.0 WITH LLVM-exception AND BSD-2-Clause AND BSL-1.0 AND MIT", "permissive"),
    ("Simplified BSD", "permissive"),           # "mpl" inside a word is not MPL
    ("LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only", "weak-copyleft"),
    ("MPL-2.0 AND MIT", "weak-copyleft"),
    ("GPL-3.0-or-later", "copyleft"),
    ("AGPL-3.0", "copyleft"),
    ("LicenseRef-NVIDIA-Proprietary", "proprietary"),
    ("Other/Proprietary License", "proprietary"),
    ("Something else entirely", "unknown"),
])
def test_review_class(licence: str, expected: str):
    assert review_class(licence) == expected


def test_licence_prefers_expression_then_short_field_then_classifiers():
    assert licence_of({"license-expression": ["MIT"], "license": ["BSD"]}) == ("MIT", "License-Expression")
    assert licence_of({"license": ["BSD-3-Clause"]}) == ("BSD-3-Clause", "License")
    long_text = {"license": ["Copyright (c) ...\nPermission is hereby granted ..." * 5],
                 "classifier": ["License :: OSI Approved :: MIT License", "Programming Language :: Python"]}
    assert licence_of(long_text) == ("MIT License", "classifier")
    assert licence_of({}) == ("UNKNOWN", "none")


def _wheel(tmp: Path, name: str, version: str, requires: list[str], files: dict[str, bytes] | None = None) -> Path:
    path = tmp / f"{name}-{version}-py3-none-any.whl"
    meta = ["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}", "License-Expression: MIT"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", "\n".join(meta) + "\n")
        for member, data in (files or {}).items():
            archive.writestr(member, data)
    return path


def test_wheel_info_reads_metadata(tmp_path: Path):
    info = wheel_info(_wheel(tmp_path, "demo_pkg", "1.2", ["tqdm>=4"]))
    assert (info.name, info.version, info.license, info.requires) == ("demo_pkg", "1.2", "MIT", ("tqdm>=4",))


def test_min_glibc_reads_manylinux_tags():
    assert min_glibc(["a-1-cp311-cp311-manylinux_2_28_x86_64.whl",
                      "b-1-cp310-abi3-manylinux_2_34_x86_64.whl",
                      "c-1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"]) == "2.34"
    assert min_glibc(["d-1-py3-none-any.whl"]) is None


def _info(name: str, version: str, requires: tuple[str, ...] = ()) -> WheelInfo:
    return WheelInfo(filename=f"{name}-{version}-py3-none-any.whl", name=name, version=version, license="MIT",
                     license_source="License-Expression", license_files=(), requires=requires)


def test_closure_evaluates_markers_for_the_target():
    """tqdm needs colorama on Windows only; a Windows target without it is incomplete."""
    wheels = [_info("app", "1.0", ("tqdm>=4.66", "tomli; python_version < '3.11'")),
              _info("tqdm", "4.70.1", ('colorama; platform_system == "Windows"', "slack-sdk; extra == 'slack'"))]
    linux = closure.target_environment(["manylinux_2_28_x86_64"], "3.11")
    windows = closure.target_environment(["win_amd64"], "3.11")
    assert closure.problems(wheels, ["app==1.0"], linux) == []
    missing = closure.problems(wheels, ["app==1.0"], windows)
    assert [(p.requirement, p.found) for p in missing] == [("colorama", None)]
    assert "tqdm 4.70.1 needs colorama" in missing[0].describe()
    old_python = closure.target_environment(["manylinux_2_28_x86_64"], "3.10")
    assert [p.requirement for p in closure.problems(wheels, ["app==1.0"], old_python)] == ["tomli"]


def test_closure_reports_wrong_versions_and_follows_extras():
    wheels = [_info("app", "1.0", ("lib[fast]>=2",)), _info("lib", "1.5", ("speedups; extra == 'fast'",))]
    problems = closure.problems(wheels, ["app==1.0"], closure.target_environment([], "3.11"))
    assert [(p.requirement, p.found) for p in problems] == [("lib[fast]>=2", "1.5")]
    wheels[1] = _info("lib", "2.1", ("speedups; extra == 'fast'",))
    problems = closure.problems(wheels, ["app==1.0"], closure.target_environment([], "3.11"))
    assert [p.requirement for p in problems] == ["speedups"]


def test_fonts_in_the_app_wheel_are_listed_with_their_licence(tmp_path: Path):
    app = _wheel(tmp_path, "app", "1.0", [], {"reports/fonts/Noto.otf": b"font-a", "reports/fonts/Odd.ttf": b"b"})
    terms = [{"file": "Noto.otf", "name": "Noto Sans", "version": "2.004", "license": "OFL-1.1"}]
    fonts = {f["name"]: f for f in sbom.font_components(app, terms, tmp_path)}
    assert fonts["Noto Sans"]["license"] == "OFL-1.1" and fonts["Noto Sans"]["license_review"] == "permissive"
    assert fonts["Noto Sans"]["file"] == f"{app.name}!/reports/fonts/Noto.otf" and fonts["Noto Sans"]["size"] == 6
    assert fonts["Odd"]["license"].startswith("UNKNOWN") and fonts["Odd"]["license_review"] == "unknown"


def test_extra_components_file_names_qt_lgpl_terms_for_pyside6():
    extra = sbom.load_extra(INSTALLER / "extra_components.json")
    chosen = sbom.term_components(extra["components"], {"pyside6", "torch"})
    assert any(t["license"] == "LGPL-3.0-only" and "Qt" in t["name"] for t in chosen)
    assert not any("NVIDIA" in t["name"] for t in chosen)        # no CUDA wheels, no NVIDIA terms
    assert sbom.term_components(extra["components"], {"numpy"}) == []
    assert isinstance(json.loads((INSTALLER / "extra_components.json").read_text())["fonts"], list)


def test_review_summary_skips_the_application_and_permissive_parts():
    parts = [{"name": "app", "license": "LicenseRef-Proprietary", "license_review": "proprietary",
              "role": "application"},
             {"name": "numpy", "version": "2", "license": "BSD-3-Clause", "license_review": "permissive"},
             {"name": "PySide6", "version": "6.12", "license": "LGPL-3.0-only", "license_review": "weak-copyleft"}]
    assert sbom.review_summary(parts) == {"weak-copyleft": ["PySide6 6.12: LGPL-3.0-only"]}


def test_a_foreign_target_gets_merged_requests_for_what_it_lacks():
    wheels = [_info("app", "1.0", ("numpy>=1.24", "lib")), _info("lib", "1.0", ("numpy<3",))]
    env = closure.target_environment(["win_amd64"], "3.11")
    assert closure.is_foreign(env)
    assert not closure.is_foreign(closure.target_environment([], None))
    names = {p.name for p in closure.problems(wheels, ["app==1.0"], env)}
    assert closure.merged_requests(wheels, ["app==1.0"], env, names) == ["numpy<3,>=1.24"]


def test_torch_flavour_check_refuses_a_gpu_build_for_cpu():
    from build_wheelhouse import BuildError, check_torch_flavour

    gpu = _info("torch", "2.14.1", ('nvidia-cudnn-cu13==9.24; platform_system == "Linux"', "filelock"))
    linux = closure.target_environment(["manylinux_2_28_x86_64"], "3.11")
    windows = closure.target_environment(["win_amd64"], "3.11")
    with pytest.raises(BuildError, match="GPU build"):
        check_torch_flavour(gpu, "cpu", closure.applicable(gpu, frozenset(), linux))
    check_torch_flavour(gpu, "cpu", closure.applicable(gpu, frozenset(), windows))   # PyPI's Windows wheel
    check_torch_flavour(_info("torch", "2.13.0+cpu", ("filelock",)), "cpu", ["filelock"])
    with pytest.raises(BuildError, match="GPU build"):
        check_torch_flavour(_info("torch", "2.13.0+cu128"), "cpu", [])

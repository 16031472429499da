"""Loading packs: metadata, extends, bad Rego (file and line), bad settings, unsafe files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from prodsprint_dagster.policy import GATES, PolicyError, load_pack
from prodsprint_dagster.policy.pack import BUILTIN_DIR


def _write_pack(directory: Path, rego: dict[str, str], **manifest) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    doc = {"name": directory.name, "version": "1.2.3", "description": "test", **manifest}
    (directory / "pack.yaml").write_text(yaml.safe_dump(doc))
    for name, source in rego.items():
        (directory / name).write_text(source)
    return directory


@pytest.mark.parametrize("name", ["default", "soc2", "hipaa"])
def test_builtin_packs_load_with_metadata(name):
    pack = load_pack(name)
    assert pack.name == name and pack.version == "1.0.0" and pack.description
    assert pack.path == BUILTIN_DIR / name
    assert pack.files and all(f.suffix == ".rego" for f in pack.files)
    assert pack.digest.startswith("sha256:")
    assert pack.settings["coverage_min"] == 80 and pack.settings["patch_coverage_min"] == 80
    assert set(pack.gates) <= set(GATES)
    assert load_pack(name) is pack  # compiled once, reused


def test_compliance_packs_extend_and_add_controls():
    soc2, hipaa = load_pack("soc2"), load_pack("hipaa")
    assert soc2.chain == ("default", "soc2") and hipaa.chain == ("default", "soc2", "hipaa")
    assert "two_approvers_prod" in soc2.gates and "data_classification" not in soc2.gates
    assert "data_classification" in hipaa.gates
    assert (
        hipaa.settings["audit_log_retention_days_min"]
        > soc2.settings["audit_log_retention_days_min"]
    )
    assert soc2.control("encryption_at_rest") == "SOC2-CC6.1"
    assert hipaa.control("encryption_at_rest").startswith("HIPAA-")


def test_gates_start_with_the_documented_order():
    assert GATES[:10] == (
        "tests", "coverage", "vulnerabilities", "sbom", "secrets", "perf", "cost", "risk",
        "freeze_window", "audit",
    )  # fmt: skip


def test_rego_syntax_error_names_file_and_line(tmp_path):
    bad = "package prodsprint.readiness\n\nimport rego.v1\n\ndeny contains d if {\n  d := \n}\n"
    pack = _write_pack(tmp_path / "broken", {"bad.rego": bad}, extends="default")
    with pytest.raises(PolicyError) as err:
        load_pack(str(pack))
    assert f"{pack / 'bad.rego'}:6:" in str(err.value)
    assert "syntax error" in str(err.value)


def test_unknown_function_names_file_and_line(tmp_path):
    source = (
        "package prodsprint.readiness\n\nimport rego.v1\n\n"
        'deny contains {"gate": "tests"} if {\n  not_a_builtin(1)\n}\n'
    )
    pack = _write_pack(tmp_path / "unknownfn", {"x.rego": source}, extends="default")
    with pytest.raises(PolicyError) as err:
        load_pack(str(pack))
    assert f"{pack / 'x.rego'}:6" in str(err.value)
    assert "not_a_builtin" in str(err.value)


def test_missing_threshold_is_refused_not_silently_passed(tmp_path):
    source = (BUILTIN_DIR / "default" / "coverage.rego").read_text()
    settings = yaml.safe_load((BUILTIN_DIR / "default" / "pack.yaml").read_text())["settings"]
    del settings["coverage_min"]
    pack = _write_pack(
        tmp_path / "nocov", {"coverage.rego": source}, gates=["coverage"], settings=settings
    )
    with pytest.raises(PolicyError, match="coverage_min"):
        load_pack(str(pack))


def test_bad_rollout_and_bad_freeze_window_are_named(tmp_path):
    pack = _write_pack(
        tmp_path / "badroll", {},
        extends="default",
        settings={"rollout": {"analysis": {"interval_seconds": 1, "min_samples": 1},
                              "bands": {"low": {"steps": [{"weight": 50}]}}}},
    )  # fmt: skip
    with pytest.raises(PolicyError, match=r"rollout\.bands"):
        load_pack(str(pack))
    pack = _write_pack(
        tmp_path / "badtz", {},
        extends="default",
        settings={"freeze_windows": [{"name": "w", "recurring": "Fri 16:00 - Mon 08:00",
                                      "timezone": "Mars/Olympus"}]},
    )  # fmt: skip
    with pytest.raises(PolicyError, match="Mars/Olympus"):
        load_pack(str(pack))


def test_unknown_pack_and_extends_cycle(tmp_path):
    with pytest.raises(PolicyError, match="not found"):
        load_pack("nosuchpack")
    _write_pack(tmp_path / "a", {}, extends="b")
    _write_pack(tmp_path / "b", {}, extends="a")
    with pytest.raises(PolicyError, match="cycle"):
        load_pack(str(tmp_path / "a"))


def test_extra_dirs_resolve_user_packs_by_name(tmp_path):
    _write_pack(tmp_path / "packs" / "team", {}, extends="soc2")
    pack = load_pack("team", extra_dirs=[tmp_path / "packs"])
    assert pack.name == "team" and pack.chain == ("default", "soc2", "team")


def test_symlinked_rego_file_is_refused(tmp_path):
    pack = _write_pack(tmp_path / "linky", {}, extends="default")
    outside = tmp_path / "outside.rego"
    outside.write_text("package prodsprint.readiness\n")
    os.symlink(outside, pack / "evil.rego")
    with pytest.raises(PolicyError, match="symlink"):
        load_pack(str(pack))


def test_invalid_pack_yaml_names_the_line(tmp_path):
    directory = tmp_path / "badyaml"
    directory.mkdir()
    (directory / "pack.yaml").write_text("name: x\nversion: [\n")
    with pytest.raises(PolicyError, match=r"pack\.yaml:\d+"):
        load_pack(str(directory))


def test_every_gate_has_a_runbook():
    docs = Path(__file__).resolve().parents[2] / "docs"
    for gate in GATES:
        text = (docs / "runbooks" / f"{gate}.md").read_text()
        assert "How to fix" in text and "How to waive" in text
    assert (docs / "policies.md").is_file()

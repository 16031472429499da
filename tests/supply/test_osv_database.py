"""OsvDatabase layouts (directory, all.zip, directory of zips) and its handling of bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from osv_fixtures import (
    ALL,
    GHSA_LODASH,
    GHSA_PYYAML,
    PYSEC_PYYAML,
    RUSTSEC_TOKIO,
    clone,
    component,
    write_dir,
    write_zip,
)

from prodsprint_dagster.supply.osv import OsvDatabase, OsvError, match_components

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = [
    component("PyPI", "PyYAML", "5.3.1"),
    component("npm", "lodash", "4.17.20"),
    component("crates.io", "tokio", "1.10.0"),
]


def _ids(db: OsvDatabase) -> list[str]:
    return sorted(f.id for f in match_components(COMPONENTS, db).findings)


EXPECTED = ["CVE-2020-14343", "CVE-2021-23337", "CVE-2021-45710"]


def test_directory_zip_and_directory_of_zips_agree(tmp_path: Path):
    as_dir = OsvDatabase.open(write_dir(tmp_path / "dir", ALL))
    as_zip = OsvDatabase.open(write_zip(tmp_path / "all.zip", ALL))
    per_eco = tmp_path / "zips"
    write_zip(per_eco / "PyPI" / "all.zip", [PYSEC_PYYAML, GHSA_PYYAML])
    write_zip(per_eco / "npm" / "all.zip", [GHSA_LODASH])
    write_zip(per_eco / "crates.io" / "all.zip", [RUSTSEC_TOKIO])
    of_zips = OsvDatabase.open(per_eco)
    assert _ids(as_dir) == _ids(as_zip) == _ids(of_zips) == EXPECTED
    assert len(as_dir) == len(as_zip) == len(ALL) - 1  # the withdrawn record is not loaded
    assert len(of_zips) == 4
    assert as_zip.describe()["packages_by_ecosystem"]["PyPI"] >= 4


def test_newer_modified_wins_for_duplicate_ids(tmp_path: Path):
    old = clone(GHSA_LODASH, modified="2021-01-01T00:00:00Z")
    new = clone(GHSA_LODASH, modified="2023-01-01T00:00:00Z")
    new["affected"][0]["ranges"][0]["events"] = [{"introduced": "0"}, {"fixed": "4.17.25"}]
    write_zip(tmp_path / "a" / "all.zip", [new])
    write_zip(tmp_path / "b" / "all.zip", [old])  # read later, but older
    db = OsvDatabase.open(tmp_path)
    finding = match_components([component("npm", "lodash", "4.17.21")], db).findings[0]
    assert finding.fixed_version == "4.17.25"


def test_newer_withdrawal_removes_an_older_record(tmp_path: Path):
    write_zip(tmp_path / "a.zip", [GHSA_LODASH])
    write_zip(tmp_path / "b.zip", [clone(GHSA_LODASH, modified="2030-01-01T00:00:00Z",
                                         withdrawn="2030-01-01T00:00:00Z")])  # fmt: skip
    db = OsvDatabase.open(tmp_path)
    assert match_components([component("npm", "lodash", "4.17.20")], db).findings == []
    assert db.withdrawn == 1


def test_malformed_record_files_are_skipped_with_a_warning(tmp_path: Path, caplog):
    write_dir(tmp_path, [GHSA_LODASH])
    (tmp_path / "npm" / "BROKEN-1.json").write_text("{ not json")
    (tmp_path / "npm" / "LIST-1.json").write_text(json.dumps([1, 2]))
    (tmp_path / "npm" / "NOID-1.json").write_text(json.dumps({"affected": []}))
    (tmp_path / "README.md").write_text("not a record")
    db = OsvDatabase.open(tmp_path)
    assert len(db) == 1
    assert len(db.warnings) == 3
    assert any("BROKEN-1.json" in w and "not valid JSON" in w for w in db.warnings)
    assert any("NOID-1.json" in w for w in caplog.messages)


def test_missing_path_and_corrupt_zip_are_errors_not_empty_databases(tmp_path: Path):
    with pytest.raises(OsvError, match="does not exist"):
        OsvDatabase.open(tmp_path / "nope")
    bad = tmp_path / "all.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(OsvError, match=r"all\.zip is not a readable zip"):
        OsvDatabase.open(bad)
    with pytest.raises(OsvError, match=r"all\.zip is not a readable zip"):
        OsvDatabase.open(tmp_path)  # a directory holding it


def test_symlink_out_of_the_database_is_not_followed(tmp_path: Path):
    outside = write_dir(tmp_path / "outside", [GHSA_LODASH])
    root = write_dir(tmp_path / "db", [PYSEC_PYYAML])
    os.symlink(outside / "npm" / "GHSA-35jh-r3h4-6jhm.json", root / "GHSA-35jh-r3h4-6jhm.json")
    db = OsvDatabase.open(root)
    assert len(db) == 1
    assert any("symlink" in w for w in db.warnings)


def test_check_reports_every_unreadable_record(tmp_path: Path):
    db = OsvDatabase.open(write_dir(tmp_path, ALL))
    assert db.warnings == []  # ranges are compiled lazily...
    warnings = db.check()  # ...or all at once on demand
    assert [w for w in warnings if "skipped" in w] == [w for w in warnings if "PYSEC-2099-1" in w]
    assert len([w for w in warnings if "skipped" in w]) == 1


def test_demo_fixture_database_matches_the_example_service():
    db = OsvDatabase.open(REPO_ROOT / "examples" / "osv-db")
    pins = (REPO_ROOT / "examples" / "shop-api" / "requirements.txt").read_text().split()
    comps = [component("PyPI", *pin.split("==")) for pin in pins if "==" in pin]
    report = match_components(comps, db)
    assert [(f.package, f.version, f.severity, f.fixed_version) for f in report.findings] == [
        ("requests", "2.31.0", "MEDIUM", "2.32.0")
    ]
    pyyaml = match_components([component("PyPI", "PyYAML", "5.3.1")], db).findings
    assert [(f.id, f.severity, f.score, f.fixed_version) for f in pyyaml] == [
        ("CVE-2020-14343", "CRITICAL", 9.8, "5.4")
    ]
    assert pyyaml[0].sources == ["GHSA-8q59-q68h-6hv4", "PYSEC-2021-142"]
    assert db.check() == []

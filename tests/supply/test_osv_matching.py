"""OSV matching on hand-written records modelled on real advisories, one ecosystem at a time."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest
from osv_fixtures import (
    ALL,
    GHSA_PYYAML,
    PYSEC_PYYAML,
    _affected,
    _range,
    clone,
    component,
    record,
    write_dir,
)

from prodsprint_dagster.supply.osv import OsvDatabase, match_components


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> OsvDatabase:
    return OsvDatabase.open(write_dir(tmp_path_factory.mktemp("osv"), ALL))


def _findings(db, *components):
    return match_components(components, db).findings


def _one(db, ecosystem, name, version):
    found = _findings(db, component(ecosystem, name, version))
    assert len(found) <= 1, found
    return found[0] if found else None


def test_pyyaml_aliases_merge_into_one_critical_finding_fixed_in_5_4(db):
    report = match_components([component("PyPI", "PyYAML", "5.3.1")], db)
    assert len(report.findings) == 1
    finding = report.findings[0]
    assert finding.id == "CVE-2020-14343"  # CVE preferred over GHSA and PYSEC
    assert finding.ids == ["CVE-2020-14343", "GHSA-8q59-q68h-6hv4", "PYSEC-2021-142"]
    assert finding.sources == ["GHSA-8q59-q68h-6hv4", "PYSEC-2021-142"]
    assert (finding.severity, finding.score) == ("CRITICAL", 9.8)
    assert finding.vector.startswith("CVSS:3.1/")
    assert (finding.fixed_version, finding.fix) == ("5.4", "fixed in 5.4")
    assert finding.summary == "Improper Input Validation in PyYAML"  # the GHSA summary
    assert finding.purl == "pkg:pypi/PyYAML@5.3.1"
    assert report.counts == {"CRITICAL": 1, "HIGH": 0, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 0}
    doc = report.to_dict()["findings"][0]
    assert {"id", "severity", "package", "version", "fix"} <= set(doc)


@pytest.mark.parametrize(
    ("version", "affected"),
    [("5.3.1", True), ("5.4b1", True), ("5.4b2", True), ("5.4", False), ("5.4.1", False),
     ("6.0", False), ("3.13", True)],
)  # fmt: skip
def test_pyyaml_pep440_prerelease_semantics(db, version, affected):
    assert bool(_findings(db, component("PyPI", "pyyaml", version))) is affected


def test_pypi_names_are_pep503_normalized(db):
    for spelling in ("PyYAML", "pyyaml", "PyYaml", "PYYAML"):
        assert [f.id for f in _findings(db, component("PyPI", spelling, "5.1"))] == [
            "CVE-2020-14343"
        ]
    for other in ("py_yaml", "py.yaml", "yaml"):  # py-yaml is another project
        assert _findings(db, component("PyPI", other, "5.1")) == []


def test_lodash_semver_fixed_in_4_17_21(db):
    finding = _one(db, "npm", "lodash", "4.17.20")
    assert finding.id == "CVE-2021-23337"
    assert (finding.severity, finding.score, finding.fixed_version) == ("HIGH", 7.2, "4.17.21")
    assert _one(db, "npm", "lodash", "4.17.21") is None
    assert _one(db, "npm", "lodash", "4.17.21-rc.1") is not None  # pre-release of the fix


def test_go_module_with_v_prefix_and_pseudo_versions(db):
    older = _one(db, "Go", "golang.org/x/net", "v0.0.0-20220826154423-83b083e8dc8b")
    assert older.id == "CVE-2022-27664"
    assert older.severity == "UNKNOWN" and older.score is None  # the Go database sets none
    assert older.fixed_version == "0.0.0-20220906165146-f3363e06e74c"
    assert _one(db, "Go", "golang.org/x/net", "v0.0.0-20220906165146-f3363e06e74c") is None
    assert _one(db, "Go", "golang.org/x/net", "v0.1.0") is None  # a release after the pseudo
    assert _one(db, "Go", "golang.org/x/net", "v0.0.0-20190101000000-aaaaaaaaaaaa") is not None


def test_go_incompatible_versions(db):
    finding = _one(db, "Go", "github.com/docker/docker", "v20.10.7+incompatible")
    assert (finding.id, finding.severity) == ("CVE-2021-41091", "MEDIUM")  # MODERATE
    assert _one(db, "Go", "github.com/docker/docker", "v20.10.9+incompatible") is None


@pytest.mark.parametrize(
    ("version", "fix"),
    [("0.1.13", None), ("0.1.14", "1.8.4"), ("1.8.3", "1.8.4"), ("1.8.4", None),
     ("1.9.0", "1.13.1"), ("1.12.0", "1.13.1"), ("1.13.1", None), ("1.20.0", None)],
)  # fmt: skip
def test_crate_advisory_with_two_windows_in_one_range(db, version, fix):
    finding = _one(db, "crates.io", "tokio", version)
    if fix is None:
        assert finding is None
    else:
        assert (finding.id, finding.fixed_version, finding.severity) == (
            "CVE-2021-45710",
            fix,
            "HIGH",
        )
        assert "RUSTSEC-2021-0124" in finding.ids and finding.sources == ["RUSTSEC-2021-0124"]


@pytest.mark.parametrize(
    ("version", "fix"),
    [("3.0.14", None), ("3.1", "3.1.13"), ("3.1.12", "3.1.13"), ("3.1.13", None),
     ("3.2rc1", None), ("3.2", "3.2.5"), ("3.2.4", "3.2.5"), ("3.2.5", None)],
)  # fmt: skip
def test_multi_range_record_with_unsorted_events(db, version, fix):
    finding = _one(db, "PyPI", "django", version)
    assert (finding.fixed_version if finding else None) == fix


def test_last_affected_without_fix(db):
    finding = _one(db, "PyPI", "pycrypto", "2.6.1")
    assert (finding.fixed_version, finding.fix) == (None, "no fix available")
    assert _one(db, "PyPI", "pycrypto", "2.0") is not None
    assert _one(db, "PyPI", "pycrypto", "2.6.2") is None


@pytest.mark.parametrize(
    ("version", "affected"),
    [("1.4.9", True), ("1.5.0", False), ("1.7.9", False), ("1.8.0", True), ("1.9.9", True),
     ("2.0.0", False), ("3.1.0", False)],
)  # fmt: skip
def test_limit_event_bounds_the_range(db, version, affected):
    assert (_one(db, "npm", "left-widget", version) is not None) is affected


def test_explicit_versions_list(db):
    for version in ("0.7.29", "0.8.0", "1.0.0"):
        finding = _one(db, "npm", "ua-parser-js", version)
        assert finding.severity == "CRITICAL" and finding.fix == "no fix available"
    for version in ("0.7.28", "0.7.30", "1.0.1"):
        assert _one(db, "npm", "ua-parser-js", version) is None


def test_versions_list_compares_versions_not_strings(tmp_path: Path):
    doc = record("PYSEC-2000-1", {"package": {"ecosystem": "PyPI", "name": "oldpkg"},
                                  "versions": ["1.0", "2.0.0"]})  # fmt: skip
    db = OsvDatabase.open(write_dir(tmp_path, [doc]))
    assert _one(db, "PyPI", "oldpkg", "1.0.0") is not None  # PEP 440: 1.0 == 1.0.0
    assert _one(db, "PyPI", "oldpkg", "2") is not None
    assert _one(db, "PyPI", "oldpkg", "1.0.1") is None


@pytest.mark.parametrize(
    ("version", "affected"),
    [("1.13.3", True), ("1.13.4.rc1", True), ("1.13.4", False), ("1.13.10", False),
     ("1.12.5", True), ("1.2.0", True)],
)  # fmt: skip
def test_rubygems_ordering(db, version, affected):
    assert (_one(db, "RubyGems", "nokogiri", version) is not None) is affected


@pytest.mark.parametrize(
    ("version", "fix"),
    [("6.5.5", "6.5.6"), ("v6.5.5", "6.5.6"), ("6.5.6", None), ("7.0.0-beta1", None),
     ("7.4.2", "7.4.3"), ("7.4.3-RC1", "7.4.3"), ("7.4.3", None), ("7.10.0", None)],
)  # fmt: skip
def test_packagist_ordering(db, version, fix):
    finding = _one(db, "Packagist", "GuzzleHttp/Guzzle", version)
    assert (finding.fixed_version if finding else None) == fix


@pytest.mark.parametrize(
    ("version", "fix"),
    [("2.12.6", "2.12.6.1"), ("2.12.6.1", None), ("2.13.0-rc1", None), ("2.13.2", "2.13.2.1"),
     ("2.13.2.1", None), ("2.13.3", None), ("2.9.10.8", "2.12.6.1")],
)  # fmt: skip
def test_maven_ordering_and_group_from_purl(db, version, fix):
    purl = f"pkg:maven/com.fasterxml.jackson.core/jackson-databind@{version}"
    comp = replace(component("Maven", "jackson-databind", version), purl=purl)
    found = match_components([comp], db).findings
    assert (found[0].fixed_version if found else None) == fix


def test_withdrawn_record_is_ignored(db):
    assert _one(db, "PyPI", "requests", "2.0.0") is None
    assert db.withdrawn == 1 and len(db) == len(ALL) - 1


def test_unparsable_version_skips_the_record_with_a_warning(tmp_path, caplog):
    db = OsvDatabase.open(write_dir(tmp_path, ALL))
    with caplog.at_level(logging.WARNING):
        report = match_components([component("PyPI", "brokenpkg", "1.0")], db)
    assert report.findings == []
    assert any("PYSEC-2099-1" in w and "not a version!" in w for w in report.warnings)
    assert any("PYSEC-2099-1" in r.getMessage() for r in caplog.records)
    assert db.warnings == [w for w in report.warnings if "PYSEC-2099-1" in w]
    # The warning is reported again by a later report on the same (cached) database.
    again = match_components([component("PyPI", "brokenpkg", "1.0")], db)
    assert any("PYSEC-2099-1" in w for w in again.warnings)


def test_alias_merging_is_transitive_and_per_package(tmp_path):
    # Three databases, three ids, linked only through shared aliases.
    ghsa = clone(GHSA_PYYAML, aliases=["CVE-2020-14343"])
    pysec = clone(PYSEC_PYYAML, aliases=["GHSA-8q59-q68h-6hv4"])
    third = record("OSV-2020-0001", _affected("PyPI", "pyyaml", _range({"introduced": "5.1"},
                   {"fixed": "5.4"})), aliases=["CVE-2020-14343"], db_severity="HIGH")  # fmt: skip
    other = record("PYSEC-2020-176", _affected("PyPI", "pyyaml", _range({"introduced": "0"},
                   {"fixed": "5.3.1"})), aliases=["CVE-2020-1747"],
                   db_severity="CRITICAL")  # fmt: skip
    db = OsvDatabase.open(write_dir(tmp_path, [ghsa, pysec, third, other]))
    report = match_components(
        [component("PyPI", "pyyaml", "5.3"), component("PyPI", "pyyaml", "5.3.1")], db
    )
    by_version: dict[str, list] = {}
    for f in report.findings:
        by_version.setdefault(f.version, []).append(f)
    assert sorted(f.id for f in by_version["5.3"]) == ["CVE-2020-14343", "CVE-2020-1747"]
    merged = next(f for f in by_version["5.3"] if f.id == "CVE-2020-14343")
    assert merged.sources == ["GHSA-8q59-q68h-6hv4", "OSV-2020-0001", "PYSEC-2021-142"]
    assert merged.severity == "CRITICAL"  # the highest of the merged records
    assert [f.id for f in by_version["5.3.1"]] == ["CVE-2020-14343"]


def test_smallest_fix_resolves_every_merged_record(tmp_path):
    first = record("GHSA-aaaa-bbbb-cccc", _affected("PyPI", "tarball", _range(
        {"introduced": "0"}, {"fixed": "2.0.1"})), aliases=["CVE-2023-1111"])  # fmt: skip
    # A later record for the same CVE: the 2.0.1 fix was incomplete; 1.9.9 fixed an old line.
    second = record("PYSEC-2023-9", _affected("PyPI", "tarball",
                    _range({"introduced": "0"}, {"fixed": "1.9.9"}),
                    _range({"introduced": "2.0.0"}, {"fixed": "2.0.3"})),
                    aliases=["CVE-2023-1111"])  # fmt: skip
    db = OsvDatabase.open(write_dir(tmp_path, [first, second]))
    finding = _one(db, "PyPI", "tarball", "2.0.0")
    assert finding.sources == ["GHSA-aaaa-bbbb-cccc", "PYSEC-2023-9"]
    assert (finding.fixed_version, finding.fix) == ("2.0.3", "fixed in 2.0.3")
    # On the old line 1.9.9 is below 2.0.1 (still affected by the GHSA): the fix is 2.0.3 too.
    assert _one(db, "PyPI", "tarball", "1.5").fixed_version == "2.0.3"
    assert _one(db, "PyPI", "tarball", "2.0.2").fixed_version == "2.0.3"


def test_preferred_id_without_cve_is_ghsa_then_record_id(tmp_path):
    ghsa_only = record("PYSEC-2022-5", _affected("PyPI", "alpha", _range({"introduced": "0"},
                       {"fixed": "1.0"})), aliases=["GHSA-zzzz-yyyy-xxxx"])  # fmt: skip
    bare = record("PYSEC-2022-6", _affected("PyPI", "beta", _range({"introduced": "0"},
                  {"fixed": "1.0"})))  # fmt: skip
    db = OsvDatabase.open(write_dir(tmp_path, [ghsa_only, bare]))
    assert _one(db, "PyPI", "alpha", "0.9").id == "GHSA-zzzz-yyyy-xxxx"
    assert _one(db, "PyPI", "beta", "0.9").id == "PYSEC-2022-6"


def test_unmatched_ecosystems_and_unversioned_components(db):
    report = match_components(
        [component("NuGet", "Newtonsoft.Json", "12.0.1"), component("PyPI", "pyyaml", None),
         component("PyPI", "pyyaml", "5.3.1"), component("PyPI", "PyYAML", "5.3.1")], db
    )  # fmt: skip
    assert report.unmatched_ecosystems == ["NuGet"]
    assert report.unversioned == ["PyPI:pyyaml"]
    assert len(report.findings) == 1  # the same package twice is one finding
    assert report.components == 4 and report.evaluated == 1
    assert any("NuGet" in w for w in report.warnings)


def test_ecosystem_absent_from_database_is_reported(tmp_path):
    db = OsvDatabase.open(write_dir(tmp_path, [PYSEC_PYYAML]))
    report = match_components([component("npm", "lodash", "4.17.20")], db)
    assert report.findings == [] and report.unmatched_ecosystems == ["npm"]


def test_unparsable_installed_version_is_a_warning_not_a_crash(db):
    report = match_components([component("PyPI", "pyyaml", "not-a-version")], db)
    assert report.findings == []
    assert any("not-a-version" in w for w in report.warnings)


def test_findings_are_ordered_by_severity(db):
    report = match_components(
        [component("npm", "left-widget", "1.0.0"), component("PyPI", "pyyaml", "5.3.1"),
         component("crates.io", "tokio", "1.10.0")], db
    )  # fmt: skip
    assert [f.severity for f in report.findings] == ["CRITICAL", "HIGH", "LOW"]


def test_garbage_collector_is_restored_after_matching(db):
    import gc

    assert gc.isenabled()
    match_components([component("PyPI", "pyyaml", "5.3.1")], db)
    assert gc.isenabled()
    gc.disable()
    try:
        match_components([component("PyPI", "pyyaml", "5.3.1")], db)
        assert not gc.isenabled()  # a caller's own choice is left alone
    finally:
        gc.enable()


def test_namespaced_names_are_rebuilt_from_the_purl(tmp_path):
    scoped = record("GHSA-67hx-6x53-jw92", _affected("npm", "@babel/traverse", _range(
        {"introduced": "0"}, {"fixed": "7.23.2"}, kind="SEMVER")),
        aliases=["CVE-2023-45133"])  # fmt: skip
    gomod = record("GO-2023-0001", _affected("Go", "github.com/gin-gonic/gin", _range(
        {"introduced": "0"}, {"fixed": "1.9.1"}, kind="SEMVER")))  # fmt: skip
    db = OsvDatabase.open(write_dir(tmp_path, [scoped, gomod]))
    comps = [
        replace(component("npm", "traverse", "7.22.0"), purl="pkg:npm/%40babel/traverse@7.22.0"),
        replace(component("npm", "traverse", "7.22.1"), purl="pkg:npm/@babel/traverse@7.22.1"),
        replace(component("npm", "traverse", "7.22.2"), purl="pkg:npm/traverse@7.22.2"),
        replace(
            component("Go", "gin", "v1.9.0"), purl="pkg:golang/github.com/gin-gonic/gin@v1.9.0"
        ),
        component("npm", "@babel/traverse", "7.23.0"),
    ]
    found = sorted((f.version, f.id) for f in match_components(comps, db).findings)
    assert found == [("7.22.0", "CVE-2023-45133"), ("7.22.1", "CVE-2023-45133"),
                     ("7.23.0", "CVE-2023-45133"), ("v1.9.0", "GO-2023-0001")]  # fmt: skip


def test_unorderable_installed_version_still_matches_exact_versions(tmp_path):
    listed = record("PYSEC-2005-1", {"package": {"ecosystem": "PyPI", "name": "legacy"},
                                     "versions": ["2004d"]}, db_severity="HIGH")  # fmt: skip
    ranged = record("PYSEC-2005-2", _affected("PyPI", "legacy", _range({"introduced": "0"},
                    {"fixed": "2.0"})), db_severity="LOW")  # fmt: skip
    db = OsvDatabase.open(write_dir(tmp_path, [ranged, listed]))
    report = match_components([component("PyPI", "legacy", "2004d")], db)
    assert [f.id for f in report.findings] == ["PYSEC-2005-1"]  # "2004d" is not PEP 440
    assert any("2004d" in w and "not checked" in w for w in report.warnings)

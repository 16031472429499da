"""Per-ecosystem version ordering and severity scoring."""

from __future__ import annotations

import pytest

from prodsprint_dagster.supply.osv import UnparsableVersion, parse_version, record_severity


def _ascending(scheme: str, versions: list[str]) -> None:
    keys = [parse_version(scheme, v) for v in versions]
    for i in range(len(versions) - 1):
        a, b, ka, kb = versions[i], versions[i + 1], keys[i], keys[i + 1]
        assert ka < kb, f"{scheme}: expected {a} < {b}"
        assert not kb < ka and ka != kb, f"{scheme}: {a} vs {b}"


def test_pep440_ordering():
    _ascending("PyPI", ["1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1", "1.0.1",
                        "1.10", "2!0.1"])  # fmt: skip
    assert parse_version("PyPI", "1.0") == parse_version("PyPI", "1.0.0")


def test_semver_ordering_including_go_pseudo_versions():
    _ascending("SEMVER", [
        "v0.0.0-20190101000000-aaaaaaaaaaaa", "0.0.0-20220906165146-f3363e06e74c", "0.1.0",
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
        "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "v1.2.3", "v1.2.4-0.20200101000000-abcdef123456",
        "1.2.4", "1.10.0", "v2.0.0+incompatible",
    ])  # fmt: skip
    # Build metadata does not take part in precedence.
    assert parse_version("SEMVER", "v20.10.9+incompatible") == parse_version("SEMVER", "20.10.9")


def test_rubygems_ordering():
    _ascending("RubyGems", ["1.0.a", "1.0.b1", "1.0.rc1", "1.0", "1.0.1", "1.1.pre", "1.1",
                            "1.13.4.rc1", "1.13.4", "1.13.10", "2.0-beta", "2.0"])  # fmt: skip
    assert parse_version("RubyGems", "1.0") == parse_version("RubyGems", "1.0.0.0")
    assert hash(parse_version("RubyGems", "1.0")) == hash(parse_version("RubyGems", "1"))


def test_packagist_ordering():
    _ascending("Packagist", ["1.0.0-dev", "1.0.0-alpha1", "1.0.0-alpha2", "1.0.0-beta1-dev",
                             "1.0.0-beta1", "1.0.0-RC1", "v1.0.0", "1.0.0-patch1", "1.0.1",
                             "1.10", "2.0.0.1"])  # fmt: skip
    assert parse_version("Packagist", "v1.0") == parse_version("Packagist", "1.0.0.0")
    assert parse_version("Packagist", "1.2.3-stable") == parse_version("Packagist", "1.2.3")


def test_maven_ordering():
    _ascending("Maven", ["1-alpha", "1-alpha-1", "1-beta", "1-milestone-1", "1-rc1",
                         "1-SNAPSHOT", "1", "1-sp1", "1-abc", "1-1", "1.0.1", "1.1",
                         "2.12.6", "2.12.6.1", "2.13.0-rc1", "2.13.0", "10.0"])  # fmt: skip
    for same in ("1.0", "1-ga", "1.0.0.final", "1-release", "1.0-0"):
        assert parse_version("Maven", same) == parse_version("Maven", "1"), same
    assert parse_version("Maven", "1.0a1") == parse_version("Maven", "1.0-alpha-1")
    assert parse_version("Maven", "1.0-cr1") == parse_version("Maven", "1.0-rc1")


@pytest.mark.parametrize(
    ("scheme", "text"),
    [("PyPI", "abc"), ("PyPI", ""), ("SEMVER", "1.x"), ("SEMVER", "latest"),
     ("Packagist", "dev-master"), ("RubyGems", "1..0"), ("Maven", "!!"), ("Maven", "")],
)  # fmt: skip
def test_unparsable_versions_raise(scheme, text):
    with pytest.raises(UnparsableVersion):
        parse_version(scheme, text)


MEDIUM_V3 = "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N"
CRITICAL_V4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"


def _doc(**fields):
    return {"id": "TEST-1", "affected": [], **fields}


def test_severity_highest_cvss_wins_and_v4_is_scored():
    doc = _doc(severity=[
        {"type": "CVSS_V3", "score": MEDIUM_V3},
        {"type": "CVSS_V4", "score": CRITICAL_V4},
    ])  # fmt: skip
    severity = record_severity(doc)
    assert (severity.level, severity.score) == ("CRITICAL", 9.3)
    assert severity.vector.startswith("CVSS:4.0/")


def test_severity_from_affected_entries_and_database_specific():
    affected = [{"package": {"ecosystem": "PyPI", "name": "x"},
                 "severity": [{"type": "CVSS_V3", "score": MEDIUM_V3}]}]  # fmt: skip
    assert record_severity(_doc(affected=affected)).level == "MEDIUM"
    assert record_severity(_doc(database_specific={"severity": "MODERATE"})).level == "MEDIUM"
    assert record_severity(_doc(database_specific={"severity": "high"})).level == "HIGH"
    assert record_severity(_doc()).level == "UNKNOWN"


def test_invalid_vector_is_ignored_with_a_warning():
    warnings: list[str] = []
    doc = _doc(severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:X"}],
               database_specific={"severity": "LOW"})  # fmt: skip
    assert record_severity(doc, warnings).level == "LOW"
    assert len(warnings) == 1 and "TEST-1" in warnings[0]

"""Waivers on vulnerability findings, stored in a real history store, expiring for real."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from osv_fixtures import ALL, component, write_dir

from prodsprint_dagster.policy import Waiver, WaiverStore
from prodsprint_dagster.store import HistoryStore
from prodsprint_dagster.supply.osv import OsvDatabase, match_components
from prodsprint_dagster.supply.waiving import apply_waivers

NOW = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)
REPO = "payments__api"


def _waiver(finding: str | None, *, days: int = 7, repo: str = REPO, gate: str = "vulnerabilities"):
    return Waiver(repo=repo, gate=gate, finding=finding, reason="not reachable: no YAML input",
                  ticket="SEC-101", owner="alice",
                  expires_at=NOW + timedelta(days=days))  # fmt: skip


def _findings(tmp_path: Path) -> list[dict]:
    db = OsvDatabase.open(write_dir(tmp_path / "osv", ALL))
    comps = [component("PyPI", "PyYAML", "5.3.1"), component("npm", "lodash", "4.17.20"),
             component("crates.io", "tokio", "1.10.0")]  # fmt: skip
    return [f.to_dict() for f in match_components(comps, db).findings]


def _by_package(findings: list[dict]) -> dict[str, dict]:
    return {f["package"]: f for f in findings}


def test_waivers_expire_in_a_real_history_store(tmp_path: Path):
    store = WaiverStore(HistoryStore(tmp_path / "history.duckdb"))
    by_alias = store.add(_waiver("GHSA-8q59-q68h-6hv4", days=3), now=NOW)  # an alias, not the id
    by_package = store.add(_waiver("lodash@4.17.20", days=30), now=NOW)
    store.add(_waiver("tokio", repo="other__repo"), now=NOW)  # another repository
    findings = _findings(tmp_path)

    today = _by_package(apply_waivers(findings, store.all(REPO, now=NOW), repo=REPO, now=NOW))
    assert today["PyYAML"]["waived"] is True and today["PyYAML"]["waiver"] == by_alias.id
    assert today["lodash"]["waived"] is True and today["lodash"]["waiver"] == by_package.id
    assert today["tokio"]["waived"] is False and "waiver" not in today["tokio"]

    later = NOW + timedelta(days=5)  # the PyYAML waiver has expired by then
    marked = apply_waivers(findings, store.all(REPO, now=later), repo=REPO, now=later)
    after = _by_package(marked)
    assert after["PyYAML"]["waived"] is False
    assert after["PyYAML"]["waiver_expired"] == by_alias.id and "waiver" not in after["PyYAML"]
    assert after["lodash"]["waived"] is True
    # The input is left untouched, and the gate keys survive.
    assert all("waived" not in f for f in findings)
    assert {"id", "severity", "package", "version", "fix"} <= set(after["PyYAML"])


def test_revoked_waiver_stops_applying_and_says_so(tmp_path: Path):
    store = WaiverStore(HistoryStore(tmp_path / "history.duckdb"))
    waiver = store.add(_waiver("CVE-2021-23337"), now=NOW)
    store.revoke(waiver.id, actor="bob", reason="fix shipped", now=NOW + timedelta(hours=1))
    at = NOW + timedelta(hours=2)
    marked = _by_package(apply_waivers(_findings(tmp_path), store.all(REPO, now=at), repo=REPO,
                                       now=at))  # fmt: skip
    assert marked["lodash"]["waived"] is False and marked["lodash"]["waiver_revoked"] == waiver.id


def test_matching_rules_and_precedence():
    finding = {"id": "CVE-2020-14343", "ids": ["CVE-2020-14343", "GHSA-8q59-q68h-6hv4",
               "PYSEC-2021-142"], "package": "PyYAML", "version": "5.3.1", "ecosystem": "PyPI",
               "severity": "CRITICAL", "fix": "fixed in 5.4"}  # fmt: skip

    def waived_by(*waivers: Waiver) -> str | None:
        return apply_waivers([finding], list(waivers), repo=REPO, now=NOW)[0].get("waiver")

    def w(wid: str, target: str | None, **kw) -> Waiver:
        return replace(_waiver(target, **kw), id=wid)

    assert waived_by(w("a", "PYSEC-2021-142")) == "a"
    assert waived_by(w("a", "pyyaml@5.3.1")) == "a"  # PEP 503 names
    assert waived_by(w("a", "py-yaml")) is None
    assert waived_by(w("a", "PyYAML@5.4")) is None  # another version
    assert waived_by(w("a", "pyyaml")) == "a"  # every version
    assert waived_by(w("a", None)) == "a"  # the whole gate
    assert waived_by(w("a", "CVE-2020-14343", gate="sbom")) is None  # another gate
    # The most precise active waiver is the one reported.
    assert waived_by(w("a", None), w("b", "pyyaml"), w("c", "CVE-2020-14343")) == "c"
    # An expired precise waiver does not hide an active broader one.
    expired = w("x", "CVE-2020-14343", days=-1)
    assert waived_by(expired, w("b", "pyyaml")) == "b"
    only_expired = apply_waivers([finding], [expired], repo=REPO, now=NOW)[0]
    assert only_expired["waived"] is False and only_expired["waiver_expired"] == "x"


def test_npm_scoped_package_names():
    finding = {"id": "GHSA-xxxx-yyyy-zzzz", "ids": ["GHSA-xxxx-yyyy-zzzz"],
               "package": "@babel/traverse", "version": "7.22.0", "ecosystem": "npm"}  # fmt: skip
    for target, expected in (("@babel/traverse", True), ("@babel/traverse@7.22.0", True),
                             ("@babel/traverse@7.23.2", False), ("babel", False)):  # fmt: skip
        marked = apply_waivers([finding], [_waiver(target)], repo=REPO, now=NOW)[0]
        assert marked["waived"] is expected, target

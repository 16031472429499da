"""Hand-written OSV records modelled on real advisories (trimmed), and helpers to store them."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path
from typing import Any

from prodsprint_dagster.supply.model import Component

CVSS_98 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def _range(*events: dict[str, str], kind: str = "ECOSYSTEM") -> dict[str, Any]:
    return {"type": kind, "events": list(events)}


def _affected(ecosystem: str, name: str, *ranges: dict[str, Any], versions=None) -> dict:
    entry: dict[str, Any] = {
        "package": {"ecosystem": ecosystem, "name": name},
        "ranges": list(ranges),
    }
    if versions is not None:
        entry["versions"] = versions
    return entry


def record(rid: str, *affected: dict, aliases=(), severity=None, modified="2024-01-01T00:00:00Z",
           summary="", db_severity=None, **extra) -> dict[str, Any]:  # fmt: skip
    doc: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": rid,
        "modified": modified,
        "aliases": list(aliases),
        "summary": summary,
        "affected": list(affected),
        "references": [{"type": "ADVISORY", "url": f"https://osv.dev/vulnerability/{rid}"}],
    }
    if severity:
        doc["severity"] = [{"type": "CVSS_V3" if severity.startswith("CVSS:3") else "CVSS_V4",
                            "score": severity}]  # fmt: skip
    if db_severity:
        doc["database_specific"] = {"severity": db_severity}
    doc.update(extra)
    return doc


# PyYAML full_load arbitrary code execution (CVE-2020-14343), as published by three databases.
PYSEC_PYYAML = record(
    "PYSEC-2021-142",
    _affected("PyPI", "pyyaml", _range({"introduced": "0"}, {"fixed": "5.4"}),
              versions=["5.1", "5.2", "5.3", "5.3.1", "5.4b1", "5.4b2"]),
    aliases=["CVE-2020-14343", "GHSA-8q59-q68h-6hv4"], severity=CVSS_98,
    summary="", details="A vulnerability was discovered in PyYAML in versions before 5.4.",
)  # fmt: skip
GHSA_PYYAML = record(
    "GHSA-8q59-q68h-6hv4",
    _affected("PyPI", "PyYAML", _range({"introduced": "0"}, {"fixed": "5.4"})),
    aliases=["CVE-2020-14343"], db_severity="CRITICAL",
    summary="Improper Input Validation in PyYAML",
)  # fmt: skip

# lodash command injection via template (CVE-2021-23337), fixed in 4.17.21.
GHSA_LODASH = record(
    "GHSA-35jh-r3h4-6jhm",
    _affected("npm", "lodash", _range({"introduced": "0"}, {"fixed": "4.17.21"}, kind="SEMVER")),
    aliases=["CVE-2021-23337"], severity="CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H",
    summary="Command Injection in lodash",
)  # fmt: skip

# golang.org/x/net HTTP/2 server DoS (CVE-2022-27664): fixed in a pseudo-version, no CVSS.
GO_XNET = record(
    "GO-2022-0969",
    _affected("Go", "golang.org/x/net",
              _range({"introduced": "0"}, {"fixed": "0.0.0-20220906165146-f3363e06e74c"},
                     kind="SEMVER")),
    aliases=["CVE-2022-27664", "GHSA-69cg-p879-7622"],
    summary="Denial of service in net/http and golang.org/x/net/http2",
)  # fmt: skip
# moby: a +incompatible module version (CVE-2021-41091), fixed in 20.10.9.
GO_MOBY = record(
    "GHSA-3fwx-pjgw-3558",
    _affected("Go", "github.com/docker/docker",
              _range({"introduced": "0"}, {"fixed": "20.10.9+incompatible"}, kind="SEMVER")),
    aliases=["CVE-2021-41091"], db_severity="MODERATE",
    summary="Insufficiently restricted permissions on data directory",
)  # fmt: skip

# tokio oneshot data race (RUSTSEC-2021-0124): two vulnerable windows in one range.
RUSTSEC_TOKIO = record(
    "RUSTSEC-2021-0124",
    _affected("crates.io", "tokio",
              _range({"introduced": "0.1.14"}, {"fixed": "1.8.4"}, {"introduced": "1.9.0"},
                     {"fixed": "1.13.1"}, kind="SEMVER")),
    aliases=["CVE-2021-45710", "GHSA-fg7r-2g4j-5cgr"],
    severity="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
    summary="Data race when sending and receiving after closing a `oneshot` channel",
)  # fmt: skip

# Django QuerySet.order_by SQL injection (CVE-2021-35042): one range per release line, events
# deliberately out of order (the spec says to sort them).
PYSEC_DJANGO = record(
    "PYSEC-2021-98",
    _affected("PyPI", "Django",
              _range({"fixed": "3.1.13"}, {"introduced": "3.1"}),
              _range({"introduced": "3.2"}, {"fixed": "3.2.5"})),
    aliases=["CVE-2021-35042"], severity=CVSS_98,
    summary="SQL injection via unsanitized QuerySet.order_by() input",
)  # fmt: skip

# pycrypto ElGamal (CVE-2018-6594): unmaintained, no fix, so a last_affected bound.
GHSA_PYCRYPTO = record(
    "GHSA-6528-wvf6-f6qg",
    _affected("PyPI", "pycrypto", _range({"introduced": "0"}, {"last_affected": "2.6.1"})),
    aliases=["CVE-2018-6594"], severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
    summary="Weak encryption in PyCrypto",
)  # fmt: skip

# A `limit` event: only the 1.x line is described, 2.x is outside the range.
GHSA_LIMITED = record(
    "GHSA-limt-0000-0001",
    _affected("npm", "left-widget",
              _range({"introduced": "0"}, {"fixed": "1.5.0"}, {"introduced": "1.8.0"},
                     {"limit": "2.0.0"}, kind="SEMVER")),
    db_severity="LOW",
)  # fmt: skip

# ua-parser-js compromised releases (GHSA-pjwm-rvh2-c87w): an explicit versions list only.
MAL_UAPARSER = record(
    "GHSA-pjwm-rvh2-c87w",
    {"package": {"ecosystem": "npm", "name": "ua-parser-js"},
     "versions": ["0.7.29", "0.8.0", "1.0.0"]},
    db_severity="CRITICAL", summary="Embedded malware in ua-parser-js",
)  # fmt: skip

# nokogiri ReDoS (CVE-2022-24836): RubyGems ordering (1.13.10 > 1.13.4 > 1.13.4.rc1).
GHSA_NOKOGIRI = record(
    "GHSA-crjr-9rc5-ghw8",
    _affected("RubyGems", "nokogiri", _range({"introduced": "0"}, {"fixed": "1.13.4"})),
    aliases=["CVE-2022-24836"], db_severity="HIGH",
    summary="Inefficient Regular Expression Complexity in Nokogiri",
)  # fmt: skip

# guzzle cookie domain (CVE-2022-29248): two Packagist release lines.
GHSA_GUZZLE = record(
    "GHSA-cwmx-hcrq-mhc3",
    _affected("Packagist", "guzzlehttp/guzzle",
              _range({"introduced": "0"}, {"fixed": "6.5.6"}),
              _range({"introduced": "7.0.0"}, {"fixed": "7.4.3"})),
    aliases=["CVE-2022-29248"], severity="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:N",
    summary="Cross-domain cookie leakage in Guzzle",
)  # fmt: skip

# jackson-databind deep nesting DoS (CVE-2020-36518): Maven four-part fixes.
GHSA_JACKSON = record(
    "GHSA-57j2-w4cx-62h2",
    _affected("Maven", "com.fasterxml.jackson.core:jackson-databind",
              _range({"introduced": "0"}, {"fixed": "2.12.6.1"}),
              _range({"introduced": "2.13.0"}, {"fixed": "2.13.2.1"})),
    aliases=["CVE-2020-36518"], severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
    summary="Deeply nested json in jackson-databind",
)  # fmt: skip

# A withdrawn advisory: must never produce a finding.
GHSA_WITHDRAWN = record(
    "GHSA-wdrn-0000-0001",
    _affected("PyPI", "requests", _range({"introduced": "0"}, {"fixed": "99.0"})),
    withdrawn="2023-05-02T00:00:00Z", db_severity="HIGH",
)  # fmt: skip

# A record whose fixed version is not PEP 440: skipped with a warning naming it.
PYSEC_BROKEN = record(
    "PYSEC-2099-1",
    _affected("PyPI", "brokenpkg", _range({"introduced": "0"}, {"fixed": "not a version!"})),
    db_severity="HIGH",
)  # fmt: skip

ALL = [
    PYSEC_PYYAML, GHSA_PYYAML, GHSA_LODASH, GO_XNET, GO_MOBY, RUSTSEC_TOKIO, PYSEC_DJANGO,
    GHSA_PYCRYPTO, GHSA_LIMITED, MAL_UAPARSER, GHSA_NOKOGIRI, GHSA_GUZZLE, GHSA_JACKSON,
    GHSA_WITHDRAWN, PYSEC_BROKEN,
]  # fmt: skip

_PURL_TYPES = {"PyPI": "pypi", "npm": "npm", "Go": "golang", "crates.io": "cargo",
               "RubyGems": "gem", "Packagist": "composer", "Maven": "maven"}  # fmt: skip


def component(ecosystem: str, name: str, version: str | None, **kw: Any) -> Component:
    purl = f"pkg:{_PURL_TYPES.get(ecosystem, ecosystem.lower())}/{name}"
    if version:
        purl += f"@{version}"
    return Component(name=name, version=version, ecosystem=ecosystem, purl=purl, **kw)


def write_dir(root: Path, records: list[dict[str, Any]]) -> Path:
    """One ``<ID>.json`` per record, spread over per-ecosystem folders like an export."""
    for doc in records:
        eco = doc["affected"][0]["package"]["ecosystem"] if doc["affected"] else "misc"
        path = root / eco / f"{doc['id']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1))
    return root


def write_zip(path: Path, records: list[dict[str, Any]]) -> Path:
    """The layout of OSV's per-ecosystem ``all.zip``: ``<ID>.json`` at the top level."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for doc in records:
            archive.writestr(f"{doc['id']}.json", json.dumps(doc))
    return path


def clone(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out.update(changes)
    return out

"""Components against OSV advisories: one finding per vulnerability per installed package.

Rules (docs/vulnerabilities.md explains them for users):

- Aliases merge. Records that share any id or alias (PYSEC-2021-142, GHSA-8q59-q68h-6hv4 and
  CVE-2020-14343 are one PyYAML issue) become one finding, by union-find over ids and aliases,
  per package and version.
- The preferred id is a CVE when the merged ids contain one (the lowest by year and number if
  several), else a GHSA id (the first in sort order), else the first record id in sort order.
- Severity is the highest of the merged records' severities (see severity.py).
- The fix is the smallest ``fixed`` version, among all merged records' ranges, that is greater
  than the installed version and that none of the merged records marks as affected. None when
  there is no such version ("no fix available").
- A component whose ecosystem has no version ordering here, or for which the database holds no
  record at all, is listed under ``unmatched_ecosystems``: no finding is then no evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from packageurl import PackageURL

from prodsprint_dagster.supply.model import Component
from prodsprint_dagster.supply.osv.advisories import (
    AdvisorySource,
    PackageAdvisory,
    PackageQuery,
)
from prodsprint_dagster.supply.osv.gcpause import gc_paused
from prodsprint_dagster.supply.osv.ranges import InstalledVersion
from prodsprint_dagster.supply.osv.records import OsvRecord, base_ecosystem, normalize_name
from prodsprint_dagster.supply.osv.severity import (
    RANK,
    SEVERITIES,
    Severity,
    record_severity,
)
from prodsprint_dagster.supply.osv.versions import (
    SCHEME_NAMES,
    UnparsableVersion,
    parse_version,
    scheme_for,
)

MAX_REFERENCES = 5
_REFERENCE_ORDER = {"ADVISORY": 0, "FIX": 1, "REPORT": 2, "WEB": 3, "ARTICLE": 4, "PACKAGE": 6}
_CVE = re.compile(r"^CVE-(\d{4})-(\d+)$")


@dataclass
class Finding:
    """One vulnerability of one installed package (its merged records and aliases)."""

    id: str
    ids: list[str]
    package: str
    version: str
    ecosystem: str
    purl: str
    severity: str
    score: float | None
    vector: str | None
    fixed_version: str | None
    fix: str
    summary: str
    references: list[str]
    sources: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VulnerabilityReport:
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    unmatched_ecosystems: list[str] = field(default_factory=list)
    unversioned: list[str] = field(default_factory=list)
    components: int = 0
    evaluated: int = 0
    source: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "counts": dict(self.counts),
            "warnings": list(self.warnings),
            "unmatched_ecosystems": list(self.unmatched_ecosystems),
            "unversioned": list(self.unversioned),
            "components": self.components,
            "evaluated": self.evaluated,
            "source": dict(self.source),
        }


def lookup_name(component: Component) -> str:
    """The OSV package name of a component: Maven ``group:artifact``, npm ``@scope/name``,
    Go module paths and Packagist ``vendor/package`` are rebuilt from the purl when the
    component's name lacks the namespace."""
    name = component.name
    eco = component.ecosystem
    if eco not in ("Maven", "npm", "Go", "Packagist") or not component.purl:
        return name
    if (eco == "Maven" and ":" in name) or (eco != "Maven" and "/" in name):
        return name
    path = component.purl.split("#", 1)[0].split("?", 1)[0].split("/", 1)[-1].rsplit("@", 1)[0]
    if "/" not in path.lstrip("/"):  # "pkg:npm/lodash@4.17.21": no namespace to add
        return name
    try:
        purl = PackageURL.from_string(component.purl)
    except ValueError:
        return name
    if not purl.namespace:
        return name
    return f"{purl.namespace}:{purl.name}" if eco == "Maven" else f"{purl.namespace}/{purl.name}"


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        parent = self.parent.setdefault(item, item)
        if parent != item:
            parent = self.parent[item] = self.find(parent)
        return parent

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def preferred_id(ids: Iterable[str], sources: Iterable[str]) -> str:
    """CVE (lowest year/number) > GHSA (first sorted) > first record id (sorted)."""
    ids = set(ids)
    cves = [(int(m.group(1)), int(m.group(2)), i) for i in ids if (m := _CVE.match(i))]
    if cves:
        return min(cves)[2]
    ghsas = sorted(i for i in ids if i.startswith("GHSA-"))
    if ghsas:
        return ghsas[0]
    return sorted(sources)[0]


def _summary(records: list[OsvRecord]) -> str:
    ordered = sorted(records, key=lambda r: (not r.id.startswith("GHSA-"), r.id))
    for record in ordered:
        if record.summary:
            return record.summary
    for record in ordered:
        if record.details:
            line = record.details.splitlines()[0].strip()
            return line if len(line) <= 200 else line[:197] + "..."
    return ""


def _references(records: list[OsvRecord]) -> list[str]:
    refs = [ref for record in sorted(records, key=lambda r: r.id) for ref in record.references]
    refs.sort(key=lambda ref: _REFERENCE_ORDER.get(ref[0], 5))
    out: list[str] = []
    for _kind, url in refs:
        if url not in out:
            out.append(url)
        if len(out) == MAX_REFERENCES:
            break
    return out


def smallest_fix(
    ecosystem: str, installed: InstalledVersion, advisories: list[PackageAdvisory]
) -> str | None:
    """The smallest fixed version above ``installed`` that no advisory marks as affected."""
    scheme = scheme_for(ecosystem)
    if scheme is None:
        return None
    try:
        current = installed.key(scheme)
    except UnparsableVersion:
        return None
    candidates: dict[Any, str] = {}
    for advisory in advisories:
        for raw in advisory.fixed_versions():
            try:
                key = parse_version(scheme, raw)
            except UnparsableVersion:
                continue
            if key > current and key not in candidates:
                candidates[key] = raw
    for key in sorted(candidates):
        candidate = InstalledVersion(ecosystem, candidates[key])
        try:
            if not any(advisory.affects(candidate) for advisory in advisories):
                return candidates[key]
        except UnparsableVersion:
            continue
    return None


class _Matcher:
    def __init__(self, source: AdvisorySource):
        self.source = source
        self.report = VulnerabilityReport()
        self.severity_cache: dict[str, Severity] = {}

    def severity(self, record: OsvRecord) -> Severity:
        cached = self.severity_cache.get(record.id)
        if cached is None:
            cached = self.severity_cache[record.id] = record_severity(
                record.raw, self.report.warnings
            )
        return cached

    def run(self, components: Iterable[Component]) -> VulnerabilityReport:
        report = self.report
        unmatched: dict[str, list[str]] = {}
        wanted: dict[tuple[str, str, str], tuple[Component, PackageQuery]] = {}
        for component in components:
            report.components += 1
            eco = base_ecosystem(component.ecosystem)
            if scheme_for(eco) is None:
                unmatched.setdefault(eco, []).append("no version ordering for this ecosystem")
                continue
            if not self.source.covers(eco):
                unmatched.setdefault(eco, []).append("the database holds no record for it")
                continue
            if not component.version:
                report.unversioned.append(f"{eco}:{component.name}")
                continue
            name = lookup_name(component)
            key = (eco, normalize_name(eco, name), component.version)
            if key not in wanted:
                wanted[key] = (component, PackageQuery(eco, name, component.version,
                                                       component.purl or None))  # fmt: skip
        queries = [query for _component, query in wanted.values()]
        components_of = [component for component, _query in wanted.values()]
        results = self.source.lookup_many(queries)
        source_warnings: dict[str, None] = {}
        for query in queries:
            source_warnings.update(dict.fromkeys(self.source.warnings_for(query)))
        for component, query, advisories in zip(components_of, queries, results, strict=True):
            report.evaluated += 1
            report.findings.extend(self.match_one(component, query, advisories))

        for eco, reasons in sorted(unmatched.items()):
            report.unmatched_ecosystems.append(eco)
            report.warnings.append(f"{len(reasons)} {eco} component(s) not checked: {reasons[0]}")
        if report.unversioned:
            shown = ", ".join(sorted(report.unversioned)[:10])
            more = (
                "" if len(report.unversioned) <= 10 else f" and {len(report.unversioned) - 10} more"
            )
            report.warnings.append(
                f"{len(report.unversioned)} component(s) without a pinned version not checked: "
                f"{shown}{more}"
            )
        report.warnings[:0] = list(source_warnings)
        report.findings.sort(
            key=lambda f: (-RANK[f.severity], -(f.score or 0.0), f.package, f.version, f.id)
        )
        report.counts = {level: 0 for level in SEVERITIES}
        for finding in report.findings:
            report.counts[finding.severity] += 1
        report.source = self.source.describe()
        return report

    def match_one(
        self, component: Component, query: PackageQuery, advisories: list[PackageAdvisory]
    ) -> list[Finding]:
        installed = InstalledVersion(query.ecosystem, query.version or "")
        matched: list[PackageAdvisory] = []
        unordered: str | None = None
        for advisory in advisories:
            try:
                affected = advisory.affects(installed)
            except UnparsableVersion as exc:
                # Exact `versions` entries still matched above; ranges cannot be evaluated.
                if advisory.asserted:
                    matched.append(advisory)
                elif unordered is None:
                    unordered = str(exc)
                continue
            if affected:
                matched.append(advisory)
            elif advisory.asserted:
                matched.append(advisory)
                self.report.warnings.append(
                    f"{advisory.record.id}: the OSV service reports {component.name} "
                    f"{query.version} as affected although the record's ranges do not; kept"
                )
        if unordered is not None:
            scheme = scheme_for(query.ecosystem) or ""
            self.report.warnings.append(
                f"{component.name} {query.version}: installed version cannot be ordered "
                f"({unordered}; {SCHEME_NAMES.get(scheme, scheme)}); its ranges were not checked"
            )
        if not matched:
            return []
        groups = _UnionFind()
        for advisory in matched:
            for alias in advisory.record.aliases:
                groups.union(advisory.record.id, alias)
            groups.find(advisory.record.id)
        merged: dict[str, list[PackageAdvisory]] = {}
        for advisory in matched:
            merged.setdefault(groups.find(advisory.record.id), []).append(advisory)
        return [self.finding(component, installed, group) for group in merged.values()]

    def finding(
        self, component: Component, installed: InstalledVersion, group: list[PackageAdvisory]
    ) -> Finding:
        records = [a.record for a in group]
        sources = sorted({r.id for r in records})
        ids = sorted({i for r in records for i in (r.id, *r.aliases)})
        severity = max((self.severity(r) for r in records), key=Severity.sort_key)
        fixed = smallest_fix(installed.ecosystem, installed, group)
        return Finding(
            id=preferred_id(ids, sources),
            ids=ids,
            package=component.name,
            version=installed.raw,
            ecosystem=installed.ecosystem,
            purl=component.purl,
            severity=severity.level,
            score=severity.score,
            vector=severity.vector,
            fixed_version=fixed,
            fix=f"fixed in {fixed}" if fixed else "no fix available",
            summary=_summary(records),
            references=_references(records),
            sources=sources,
        )


def match_components(components: Iterable[Component], db: AdvisorySource) -> VulnerabilityReport:
    """Match ``components`` against an :class:`OsvDatabase` or :class:`OnlineOsv`."""
    with gc_paused():
        return _Matcher(db).run(components)

"""What a vulnerability source hands the matcher: one record's compiled view of one package.

The offline database and the online client both answer ``lookup_many`` with these, so the
matcher never knows (or cares) where the records came from.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from prodsprint_dagster.supply.osv.ranges import (
    CompiledAffected,
    InstalledVersion,
    RangeError,
    compile_affected,
)
from prodsprint_dagster.supply.osv.records import OsvRecord, affected_packages
from prodsprint_dagster.supply.osv.versions import UnparsableVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackageQuery:
    """One component to look up: ecosystem, OSV package name (as the lockfile spells it;
    each source normalizes it for its own index) and installed version."""

    ecosystem: str
    name: str
    version: str | None
    purl: str | None = None


@dataclass(frozen=True)
class PackageAdvisory:
    """One record as it applies to one package (all its ``affected`` entries for it)."""

    record: OsvRecord
    ecosystem: str
    name: str
    entries: tuple[CompiledAffected, ...]
    asserted: bool = False  # the source itself states the queried version is affected

    def affects(self, version: InstalledVersion) -> bool:
        """Whether any entry marks ``version``; UnparsableVersion only when no entry could
        answer (an exact ``versions`` match needs no ordering)."""
        unordered: UnparsableVersion | None = None
        for entry in self.entries:
            try:
                if entry.affects(version):
                    return True
            except UnparsableVersion as exc:
                unordered = exc
        if unordered is not None:
            raise unordered
        return False

    def fixed_versions(self) -> list[str]:
        return [raw for entry in self.entries for raw in entry.fixed()]

    @property
    def evaluable(self) -> bool:
        return any(not entry.git_only for entry in self.entries)


class AdvisorySource(Protocol):
    """The interface :func:`match_components` needs (OsvDatabase and OnlineOsv)."""

    warnings: list[str]

    def lookup(
        self, ecosystem: str, name: str, version: str | None = None
    ) -> list[PackageAdvisory]: ...

    def lookup_many(self, queries: Sequence[PackageQuery]) -> list[list[PackageAdvisory]]: ...

    def warnings_for(self, query: PackageQuery) -> list[str]:
        """Warnings met while reading the records of the queried package (skipped records)."""
        ...

    def covers(self, ecosystem: str) -> bool: ...

    def describe(self) -> dict[str, Any]: ...


def compile_package(
    doc: dict[str, Any], ecosystem: str, name: str, warnings: list[str], *, asserted: bool = False
) -> PackageAdvisory | None:
    """Compile every affected entry of ``doc`` naming (ecosystem, name); None when the record
    cannot be evaluated for it (an unparsable version or range: skipped, with a warning)."""
    entries = []
    affected = doc.get("affected") or []
    for index, eco, normalized in affected_packages(doc):
        if eco != ecosystem or normalized != name:
            continue
        try:
            entries.append(compile_affected(ecosystem, affected[index]))
        except RangeError as exc:
            message = (
                f"OSV record {doc['id']} ({ecosystem} {name}): {exc}; record skipped "
                "for this package"
            )
            log.warning("%s", message)
            warnings.append(message)
            return None
    if not entries:
        return None
    for entry in entries:
        for note in entry.notes:
            warnings.append(f"OSV record {doc['id']} ({ecosystem} {name}): {note}")
    return PackageAdvisory(OsvRecord.from_json(doc), ecosystem, name, tuple(entries), asserted)

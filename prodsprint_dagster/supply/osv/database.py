"""The offline OSV database: a directory of OSV JSON records, an OSV ``all.zip`` export, or a
directory holding several of those zips (one per ecosystem), indexed for dict-lookup matching.

Opening reads and decodes every record once (orjson) and indexes it by (ecosystem, normalized
package name); version ranges are compiled only for packages that are actually looked up, so
50,000 records open in about a second and matching never scans. Records with an unreadable
version or range are skipped with a warning naming them (``db.warnings`` and the log), a
withdrawn record is ignored, and when the same id appears twice the newer ``modified`` wins.

A corrupt zip or a path that does not exist is an error, never an empty database: "no
findings" from a database that failed to load would be a false all-clear.
"""

from __future__ import annotations

import logging
import os
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodsprint_dagster.supply.osv.advisories import (
    PackageAdvisory,
    PackageQuery,
    compile_package,
)
from prodsprint_dagster.supply.osv.gcpause import gc_paused
from prodsprint_dagster.supply.osv.records import (
    OsvError,
    affected_packages,
    base_ecosystem,
    is_withdrawn,
    load_json,
    normalize_name,
)

log = logging.getLogger(__name__)

MAX_RECORD_BYTES = 16 << 20  # the largest real OSV records are a few MB (long version lists)


@dataclass(frozen=True)
class _Entry:
    """What the index keeps of a record: its encoded form, decoded again only on a lookup.

    Bytes are compact and invisible to the cyclic garbage collector; tens of thousands of
    decoded JSON trees would be neither, and every full collection would walk them."""

    blob: bytes
    modified: str
    withdrawn: bool
    packages: tuple[tuple[str, str], ...]


class OsvDatabase:
    """Records indexed by (ecosystem, normalized name); open with :meth:`open`."""

    def __init__(self, path: Path, entries: dict[str, _Entry], warnings: list[str],
                 withdrawn: int):  # fmt: skip
        self.path = path
        self.warnings = warnings
        self.withdrawn = withdrawn
        self._entries = entries
        self._index: dict[tuple[str, str], list[str]] = {}
        for rid, entry in entries.items():
            for key in entry.packages:
                self._index.setdefault(key, []).append(rid)
        self._ecosystems = Counter(eco for eco, _name in self._index)
        self._compiled: dict[tuple[str, str], list[PackageAdvisory]] = {}
        self._key_warnings: dict[tuple[str, str], list[str]] = {}
        self._lock = threading.Lock()

    # -- loading -----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> OsvDatabase:
        """Load a directory of records (recursively), an ``all.zip``, or a directory of zips."""
        path = Path(path)
        if not path.exists():
            raise OsvError(f"OSV database {path} does not exist")
        warnings: list[str] = []
        entries: dict[str, _Entry] = {}
        with gc_paused():
            cls._read(path, entries, warnings)
        withdrawn = [rid for rid, entry in entries.items() if entry.withdrawn]
        for rid in withdrawn:
            del entries[rid]
        return cls(path, entries, warnings, len(withdrawn))

    @staticmethod
    def _read(path: Path, entries: dict[str, _Entry], warnings: list[str]) -> None:
        for origin, data in _record_blobs(path, warnings):
            try:
                doc = load_json(data, origin)
            except OsvError as exc:
                _warn(warnings, f"{exc}; skipped")
                continue
            modified = str(doc.get("modified") or "")
            previous = entries.get(doc["id"])
            if previous is None or modified >= previous.modified:
                packages = tuple(dict.fromkeys((eco, n) for _i, eco, n in affected_packages(doc)))
                entries[doc["id"]] = _Entry(data, modified, is_withdrawn(doc), packages)

    # -- lookups -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(
        self, ecosystem: str, name: str, version: str | None = None
    ) -> list[PackageAdvisory]:
        """Every advisory naming the package (any version: the matcher evaluates ranges)."""
        eco = base_ecosystem(ecosystem)
        key = (eco, normalize_name(eco, name))
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key)
                if compiled is None:
                    compiled, warnings = [], []
                    for rid in self._index.get(key, ()):
                        doc = load_json(self._entries[rid].blob, rid)
                        advisory = compile_package(doc, key[0], key[1], warnings)
                        if advisory is not None:
                            compiled.append(advisory)
                    self.warnings.extend(warnings)
                    self._key_warnings[key] = warnings
                    self._compiled[key] = compiled
        return compiled

    def lookup_many(self, queries: Sequence[PackageQuery]) -> list[list[PackageAdvisory]]:
        return [self.lookup(q.ecosystem, q.name, q.version) for q in queries]

    def warnings_for(self, query: PackageQuery) -> list[str]:
        eco = base_ecosystem(query.ecosystem)
        return self._key_warnings.get((eco, normalize_name(eco, query.name)), [])

    def covers(self, ecosystem: str) -> bool:
        """Whether the database holds any record for ``ecosystem`` (else no finding is no
        evidence of safety)."""
        return self._ecosystems.get(base_ecosystem(ecosystem), 0) > 0

    def check(self) -> list[str]:
        """Compile every indexed package now and return all warnings (for `validate` uses)."""
        for eco, name in list(self._index):
            self.lookup(eco, name)
        return self.warnings

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "offline",
            "path": str(self.path),
            "records": len(self._entries),
            "withdrawn_ignored": self.withdrawn,
            "packages_by_ecosystem": dict(sorted(self._ecosystems.items())),
        }


def _warn(warnings: list[str], message: str) -> None:
    log.warning("%s", message)
    warnings.append(message)


def _record_blobs(path: Path, warnings: list[str]) -> Iterator[tuple[str, bytes]]:
    if path.is_file():
        if path.suffix.lower() == ".zip":
            yield from _zip_blobs(path, warnings)
        else:
            yield from _file_blob(path, warnings)
        return
    root = path.resolve()
    for directory, subdirs, files in os.walk(path, followlinks=False):
        subdirs.sort()
        for name in sorted(files):
            file = Path(directory) / name
            lower = name.lower()
            if not (lower.endswith(".json") or lower.endswith(".zip")):
                continue
            if file.is_symlink() and not file.resolve().is_relative_to(root):
                _warn(warnings, f"{file}: symlink out of the OSV database directory; skipped")
                continue
            if lower.endswith(".zip"):
                yield from _zip_blobs(file, warnings)
            else:
                yield from _file_blob(file, warnings)


def _file_blob(file: Path, warnings: list[str]) -> Iterator[tuple[str, bytes]]:
    try:
        size = file.stat().st_size
        if size > MAX_RECORD_BYTES:
            _warn(warnings, f"{file}: larger than {MAX_RECORD_BYTES} bytes; skipped")
            return
        data = file.read_bytes()
    except OSError as exc:
        _warn(warnings, f"{file}: cannot be read ({exc.strerror}); skipped")
        return
    yield str(file), data


def _zip_blobs(file: Path, warnings: list[str]) -> Iterator[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(file) as archive:
            for info in archive.infolist():
                if info.is_dir() or not info.filename.lower().endswith(".json"):
                    continue
                origin = f"{file}!{info.filename}"
                if info.file_size > MAX_RECORD_BYTES:
                    _warn(warnings, f"{origin}: larger than {MAX_RECORD_BYTES} bytes; skipped")
                    continue
                yield origin, archive.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise OsvError(f"OSV database {file} is not a readable zip: {exc}") from None

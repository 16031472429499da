"""OSV ``affected`` entries compiled for fast, spec-exact "is this version affected?" answers.

The evaluation is the one in the OSV schema (section "Evaluation"): per range, events are
sorted by version (``introduced: "0"`` first), a version is vulnerable after an
``introduced`` at or below it until a ``fixed`` at or below it, or a ``last_affected`` below
it; when ``limit`` events exist the version must also be below one of them (``*`` = no
limit). An explicit ``versions`` list is a second, independent way to be affected.

``GIT`` ranges name commits, and a lockfile gives versions, so they are ignored; an entry
with nothing but GIT ranges (and no ``versions``) cannot be evaluated and says so.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from prodsprint_dagster.supply.osv.versions import (
    SCHEME_NAMES,
    UnparsableVersion,
    parse_version,
    scheme_for,
)

_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
_INTRODUCED, _FIXED, _LAST, _LIMIT = range(4)


class RangeError(ValueError):
    """An affected entry that cannot be evaluated (its record is skipped for that package)."""


class InstalledVersion:
    """One version under test, parsed lazily once per ordering scheme."""

    __slots__ = ("_keys", "ecosystem", "raw")

    def __init__(self, ecosystem: str, raw: str):
        self.ecosystem = ecosystem
        self.raw = raw
        self._keys: dict[str, Any] = {}

    def key(self, scheme: str) -> Any:
        """The parsed key, or raises UnparsableVersion (remembered, so it is parsed once)."""
        try:
            key = self._keys[scheme]
        except KeyError:
            try:
                key = parse_version(scheme, self.raw)
            except UnparsableVersion as exc:
                key = exc
            self._keys[scheme] = key
        if isinstance(key, UnparsableVersion):
            raise key
        return key


@dataclass(frozen=True)
class CompiledRange:
    scheme: str
    events: tuple[tuple[int, Any, str], ...]  # (kind, key or None for "0", raw), sorted
    limits: tuple[Any, ...]  # keys; empty when there is no limit (or only "*")

    def includes(self, version: InstalledVersion) -> bool:
        v = version.key(self.scheme)
        if self.limits and not any(v < limit for limit in self.limits):
            return False
        vulnerable = False
        for kind, key, _raw in self.events:
            if kind == _INTRODUCED:
                if key is None or v >= key:
                    vulnerable = True
            elif kind == _FIXED:
                if v >= key:
                    vulnerable = False
            elif kind == _LAST and v > key:
                vulnerable = False
        return vulnerable

    def fixed(self) -> list[str]:
        return [raw for kind, _key, raw in self.events if kind == _FIXED]


@dataclass
class CompiledAffected:
    """One ``affected`` entry of one record, for one package."""

    ecosystem: str
    ranges: tuple[CompiledRange, ...]
    versions: frozenset[str]
    version_keys: frozenset[Any]
    git_only: bool = False
    notes: list[str] = field(default_factory=list)

    def affects(self, version: InstalledVersion) -> bool:
        if version.raw in self.versions:
            return True
        if self.version_keys:
            scheme = scheme_for(self.ecosystem)
            try:
                if scheme and version.key(scheme) in self.version_keys:
                    return True
            except UnparsableVersion:
                pass
        return any(r.includes(version) for r in self.ranges)

    def fixed(self) -> list[str]:
        return [raw for r in self.ranges for raw in r.fixed()]


def _event_sort_key(event: tuple[int, Any, str]) -> tuple[Any, ...]:
    _kind, key, _raw = event
    return (0,) if key is None else (1, key)


def _compile_range(ecosystem: str, spec: dict[str, Any]) -> tuple[CompiledRange, list[str]]:
    range_type = str(spec.get("type") or "")
    scheme = scheme_for(ecosystem, range_type)
    if scheme is None:
        raise RangeError(f"no version ordering for {ecosystem} {range_type} ranges")
    events_in = spec.get("events")
    if not isinstance(events_in, list) or not events_in:
        raise RangeError(f"{range_type} range without events")
    notes: list[str] = []
    events: list[tuple[int, Any, str]] = []
    limits: list[Any] = []
    for event in events_in:
        if not isinstance(event, dict):
            raise RangeError(f"event {event!r} is not an object")
        found = [k for k in _EVENT_KINDS if k in event]
        if not found:
            raise RangeError(f"event {event!r} has none of {', '.join(_EVENT_KINDS)}")
        for kind_name in found:
            raw = event[kind_name]
            if not isinstance(raw, str) or not raw.strip():
                raise RangeError(f"{kind_name} value {raw!r} is not a version string")
            kind = _EVENT_KINDS.index(kind_name)
            if kind == _INTRODUCED and raw.strip() == "0":
                events.append((kind, None, raw))
                continue
            if kind == _LIMIT and raw.strip() == "*":
                continue
            try:
                key = parse_version(scheme, raw)
            except UnparsableVersion as exc:
                raise RangeError(f"{kind_name} {exc} ({SCHEME_NAMES[scheme]})") from None
            if kind == _LIMIT:
                limits.append(key)
            else:
                events.append((kind, key, raw))
    if not any(kind == _INTRODUCED for kind, _k, _r in events):
        events.append((_INTRODUCED, None, "0"))
        notes.append("a range has no `introduced` event; read as introduced at 0")
    events.sort(key=_event_sort_key)
    return CompiledRange(scheme, tuple(events), tuple(limits)), notes


def compile_affected(ecosystem: str, entry: dict[str, Any]) -> CompiledAffected:
    """Compile one ``affected`` entry; raises RangeError naming the first unreadable part."""
    ranges: list[CompiledRange] = []
    notes: list[str] = []
    git_ranges = 0
    for spec in entry.get("ranges") or []:
        if not isinstance(spec, dict):
            raise RangeError(f"range {spec!r} is not an object")
        if spec.get("type") == "GIT":
            git_ranges += 1
            continue
        if spec.get("type") not in ("ECOSYSTEM", "SEMVER"):
            notes.append(f"range type {spec.get('type')!r} is not evaluated")
            continue
        compiled, range_notes = _compile_range(ecosystem, spec)
        ranges.append(compiled)
        notes.extend(range_notes)
    listed = entry.get("versions") or []
    if not isinstance(listed, list):
        raise RangeError("`versions` is not a list")
    versions = frozenset(v for v in listed if isinstance(v, str))
    keys = set()
    scheme = scheme_for(ecosystem)
    if scheme is not None:
        for raw in versions:
            with contextlib.suppress(UnparsableVersion):  # else exact string equality only
                keys.add(parse_version(scheme, raw))
    git_only = not ranges and not versions and git_ranges > 0
    if git_only:
        notes.append("only GIT (commit) ranges, which cannot be evaluated against versions")
    return CompiledAffected(ecosystem, tuple(ranges), versions, frozenset(keys), git_only, notes)

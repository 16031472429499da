"""Version ordering per ecosystem, because "is 5.4b1 before 5.4?" has a different answer in each.

Each scheme turns a version string into a key that compares (``<``, ``==``) and hashes the
way the ecosystem's own package manager orders versions:

- PyPI: PEP 440 through ``packaging.version.Version`` (pre-, post-, dev- and local releases).
- SEMVER (npm, crates.io, Go, and every OSV range of type ``SEMVER``): SemVer 2.0 precedence;
  the ``semver`` package parses, the key is a plain tuple so comparisons run in C. A leading
  ``v`` (Go modules) or ``=`` (npm) is dropped and build metadata (``+incompatible``) is
  ignored, as precedence demands. Go pseudo-versions (``v0.0.0-20200101000000-abcdef123456``)
  are SemVer pre-releases by design, so they order correctly with no special case.
- RubyGems: ``Gem::Version`` semantics (segments split at dots and letter/digit changes,
  trailing zeros ignored, any letter segment makes a pre-release: 1.0.a < 1.0).
- Packagist: Composer's ``VersionParser::normalize`` followed by PHP ``version_compare``
  (dev < alpha < beta < RC < stable < patch, ``v`` prefix, four numeric parts).
- Maven: ``ComparableVersion`` (qualifier order alpha < beta < milestone < rc < snapshot <
  release < sp, then unknown qualifiers lexically; ``-`` nests a sub-list).

A version a scheme cannot read raises :class:`UnparsableVersion`; callers decide whether that
skips a record (a bad bound in an advisory) or a component (a bad installed version).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import semver
from packaging.version import InvalidVersion, Version

_CACHE = 1 << 16


class UnparsableVersion(ValueError):
    """A version string the ecosystem's ordering cannot place."""


# -- PyPI ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=_CACHE)
def parse_pep440(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        raise UnparsableVersion(f"{text!r} is not a PEP 440 version") from None


# -- SemVer (npm, crates.io, Go) -----------------------------------------------------------------


@functools.lru_cache(maxsize=_CACHE)
def parse_semver(text: str) -> tuple[Any, ...]:
    """SemVer precedence as a tuple: a release sorts after its pre-releases, numeric
    identifiers before alphanumeric ones, and a shorter identifier list first."""
    raw = text.strip()
    if raw[:1] in ("v", "V", "="):
        raw = raw[1:]
    try:
        parsed = semver.Version.parse(raw, optional_minor_and_patch=True)
    except (ValueError, TypeError):
        raise UnparsableVersion(f"{text!r} is not a SemVer version") from None
    if parsed.prerelease is None:
        return (parsed.major, parsed.minor, parsed.patch, 1, ())
    idents = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in parsed.prerelease.split(".")
    )
    return (parsed.major, parsed.minor, parsed.patch, 0, idents)


# -- RubyGems ------------------------------------------------------------------------------------

_RUBY_VALID = re.compile(
    r"^\s*([0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?\s*$"
)
_RUBY_SEGMENT = re.compile(r"[0-9]+|[a-zA-Z]+")


@functools.total_ordering
class RubyVersion:
    """``Gem::Version``: canonical segments compared pairwise, missing ones read as 0, and a
    letter segment sorts below any number (which is what makes it a pre-release)."""

    __slots__ = ("segments",)

    def __init__(self, segments: tuple[int | str, ...]):
        self.segments = segments

    def _cmp(self, other: RubyVersion) -> int:
        left, right = self.segments, other.segments
        if left == right:
            return 0
        for i in range(max(len(left), len(right))):
            a = left[i] if i < len(left) else 0
            b = right[i] if i < len(right) else 0
            if a == b:
                continue
            a_str, b_str = isinstance(a, str), isinstance(b, str)
            if a_str != b_str:
                return -1 if a_str else 1
            return -1 if a < b else 1  # type: ignore[operator]
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RubyVersion) and self._cmp(other) == 0

    def __lt__(self, other: RubyVersion) -> bool:
        return self._cmp(other) < 0

    def __hash__(self) -> int:
        return hash(self.segments)

    def __repr__(self) -> str:
        return f"RubyVersion({'.'.join(map(str, self.segments))})"


def _strip_zeros(segments: list[int | str]) -> list[int | str]:
    while segments and segments[-1] == 0:
        segments.pop()
    return segments


@functools.lru_cache(maxsize=_CACHE)
def parse_rubygems(text: str) -> RubyVersion:
    if not _RUBY_VALID.match(text):
        raise UnparsableVersion(f"{text!r} is not a RubyGems version")
    raw = text.strip() or "0"
    raw = raw.replace("-", ".pre.")
    segments: list[int | str] = [int(s) if s.isdigit() else s for s in _RUBY_SEGMENT.findall(raw)]
    first_str = next((i for i, s in enumerate(segments) if isinstance(s, str)), len(segments))
    canonical = _strip_zeros(segments[:first_str]) + _strip_zeros(segments[first_str:])
    return RubyVersion(tuple(canonical))


# -- Packagist (Composer) ------------------------------------------------------------------------

_COMPOSER_MODIFIER = r"[._-]?(?:(stable|beta|b|rc|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?"
_COMPOSER_CLASSIC = re.compile(
    r"^v?(\d{1,5})(\.\d+)?(\.\d+)?(\.\d+)?" + _COMPOSER_MODIFIER + "$", re.IGNORECASE
)
_COMPOSER_DATE = re.compile(
    r"^v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3}){0,2})" + _COMPOSER_MODIFIER + "$",
    re.IGNORECASE,
)
# PHP version_compare's special forms, after Composer's expandStability.
_COMPOSER_STABILITY = {
    "dev": 0, "alpha": 1, "a": 1, "beta": 2, "b": 2, "rc": 3, "stable": 4,
    "patch": 5, "pl": 5, "p": 5,
}  # fmt: skip
_STABLE = 4


@functools.lru_cache(maxsize=_CACHE)
def parse_composer(text: str) -> tuple[Any, ...]:
    """(numeric parts, stability rank, stability numbers, 0 for a ``-dev`` snapshot else 1)."""
    raw = text.strip()
    raw = raw.split("@", 1)[0]  # "1.0.0@beta" stability flags
    raw = raw.split("+", 1)[0]  # build metadata
    match = _COMPOSER_CLASSIC.match(raw)
    if match:
        numbers = tuple(int((match.group(i) or "0").lstrip(".")) for i in range(1, 5))
        stability, stab_numbers, dev = match.group(5), match.group(6), match.group(7)
    else:
        match = _COMPOSER_DATE.match(raw)
        if not match:
            raise UnparsableVersion(f"{text!r} is not a Composer version")
        numbers = tuple(int(p) for p in re.split(r"\D", match.group(1)) if p)
        stability, stab_numbers, dev = match.group(2), match.group(3), match.group(4)
    rank = _COMPOSER_STABILITY[stability.lower()] if stability else _STABLE
    extra = tuple(int(p) for p in re.findall(r"\d+", stab_numbers or ""))
    if dev and not stability:
        return (numbers, 0, (), 1)  # "1.0.0-dev": the snapshot before every 1.0.0 pre-release
    return (numbers, rank, extra, 0 if dev else 1)


# -- Maven ---------------------------------------------------------------------------------------

_MAVEN_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_MAVEN_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_MAVEN_RELEASE = str(_MAVEN_QUALIFIERS.index(""))


class _Qualifier(str):
    """A Maven string item, stored as its comparable form ("0".."6" or "7-<unknown>")."""

    __slots__ = ()


def _qualifier(text: str, followed_by_digit: bool) -> _Qualifier:
    if followed_by_digit and len(text) == 1:
        text = {"a": "alpha", "b": "beta", "m": "milestone"}.get(text, text)
    text = _MAVEN_ALIASES.get(text, text)
    try:
        return _Qualifier(str(_MAVEN_QUALIFIERS.index(text)))
    except ValueError:
        return _Qualifier(f"{len(_MAVEN_QUALIFIERS)}-{text}")


def _is_null(item: Any) -> bool:
    if isinstance(item, int):
        return item == 0
    if isinstance(item, _Qualifier):
        return item == _MAVEN_RELEASE
    return len(item) == 0


def _normalize(items: list[Any]) -> None:
    for i in range(len(items) - 1, -1, -1):
        if _is_null(items[i]):
            del items[i]
        elif not isinstance(items[i], list):
            break


def _maven_cmp(a: Any, b: Any) -> int:
    """ComparableVersion's Item.compareTo; ``b`` may be None (padding)."""
    if isinstance(a, int):
        if b is None:
            return 0 if a == 0 else 1
        if isinstance(b, int):
            return (a > b) - (a < b)
        return 1  # a number outranks a qualifier and a sub-list
    if isinstance(a, _Qualifier):
        if b is None:
            b = _MAVEN_RELEASE
        elif isinstance(b, int | tuple):
            return -1
        return (a > b) - (a < b)
    # a is a sub-list
    if b is None:
        for item in a:
            result = _maven_cmp(item, None)
            if result:
                return result
        return 0
    if isinstance(b, int):
        return -1
    if isinstance(b, _Qualifier):
        return 1
    for i in range(max(len(a), len(b))):
        left = a[i] if i < len(a) else None
        right = b[i] if i < len(b) else None
        if left is None:
            result = 0 if right is None else -_maven_cmp(right, None)
        else:
            result = _maven_cmp(left, right)
        if result:
            return result
    return 0


def _freeze(items: list[Any]) -> tuple[Any, ...]:
    return tuple(_freeze(i) if isinstance(i, list) else i for i in items)


@functools.total_ordering
class MavenVersion:
    __slots__ = ("items", "text")

    def __init__(self, items: tuple[Any, ...], text: str):
        self.items = items
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MavenVersion) and _maven_cmp(self.items, other.items) == 0

    def __lt__(self, other: MavenVersion) -> bool:
        return _maven_cmp(self.items, other.items) < 0

    def __hash__(self) -> int:
        return hash(self.items)

    def __repr__(self) -> str:
        return f"MavenVersion({self.text})"


_MAVEN_VALID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]*$")


@functools.lru_cache(maxsize=_CACHE)
def parse_maven(text: str) -> MavenVersion:
    raw = text.strip().lower()
    if not _MAVEN_VALID.match(raw):
        raise UnparsableVersion(f"{text!r} is not a Maven version")
    root: list[Any] = []
    current = root
    stack = [root]
    is_digit = False
    start = 0

    def item(token: str, digit: bool) -> Any:
        return int(token) if digit else _qualifier(token, False)

    for i, char in enumerate(raw):
        if char == ".":
            current.append(0 if i == start else item(raw[start:i], is_digit))
            start = i + 1
        elif char == "-":
            current.append(0 if i == start else item(raw[start:i], is_digit))
            start = i + 1
            sub: list[Any] = []
            current.append(sub)
            current = sub
            stack.append(sub)
        elif char.isdigit():
            if not is_digit and i > start:
                current.append(_qualifier(raw[start:i], True))
                start = i
                sub = []
                current.append(sub)
                current = sub
                stack.append(sub)
            is_digit = True
        else:
            if is_digit and i > start:
                current.append(int(raw[start:i]))
                start = i
                sub = []
                current.append(sub)
                current = sub
                stack.append(sub)
            is_digit = False
    if len(raw) > start:
        current.append(item(raw[start:], is_digit))
    while stack:
        _normalize(stack.pop())
    return MavenVersion(_freeze(root), text)


# -- schemes -------------------------------------------------------------------------------------

SEMVER = "SEMVER"

_PARSERS = {
    "PyPI": parse_pep440,
    SEMVER: parse_semver,
    "RubyGems": parse_rubygems,
    "Packagist": parse_composer,
    "Maven": parse_maven,
}
# Ecosystems whose own ordering is SemVer share its parser (and its cache).
_ECOSYSTEM_SCHEME = {
    "PyPI": "PyPI",
    "npm": SEMVER,
    "crates.io": SEMVER,
    "Go": SEMVER,
    "RubyGems": "RubyGems",
    "Packagist": "Packagist",
    "Maven": "Maven",
}
SCHEME_NAMES = {
    "PyPI": "PEP 440",
    SEMVER: "SemVer",
    "RubyGems": "RubyGems",
    "Packagist": "Composer",
    "Maven": "Maven",
}


def scheme_for(ecosystem: str, range_type: str = "ECOSYSTEM") -> str | None:
    """The ordering to use for a range of ``range_type`` in ``ecosystem`` (None: unknown)."""
    if range_type == SEMVER:
        return SEMVER
    return _ECOSYSTEM_SCHEME.get(ecosystem)


def parse_version(scheme: str, text: str) -> Any:
    """A comparable, hashable key for ``text`` in ``scheme`` (see :func:`scheme_for`)."""
    if not isinstance(text, str) or not text.strip():
        raise UnparsableVersion(f"{text!r} is not a version")
    return _PARSERS[scheme](text)


def supported_ecosystems() -> tuple[str, ...]:
    return tuple(_ECOSYSTEM_SCHEME)

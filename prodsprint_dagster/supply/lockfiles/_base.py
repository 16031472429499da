"""What every lockfile parser shares: bounded, symlink-safe reading, the malformed-input signal,
and the merge rule that makes one component per purl.

Lockfiles come from untrusted repositories: a file may be huge, a symlink may point at
``/etc``, an include may climb out of the checkout. Reading therefore goes through
:func:`read_repo_file`, which refuses all three and says why, instead of raising.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import yaml

from prodsprint_dagster.supply.model import Component, Gap

MAX_LOCKFILE_BYTES = 64 * 1024 * 1024
_SCOPE_RANK = {"required": 0, "optional": 1, "dev": 2}


class Malformed(Exception):
    """Raised inside a parser when the file does not have the shape its format promises; the
    dispatcher turns it into a ``malformed_lockfile`` gap, so callers never see it."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


def is_safe_rel(rel: str) -> bool:
    """A repository-relative POSIX path that stays inside the repository."""
    if not rel or rel.startswith("/") or "\\" in rel or "\x00" in rel:
        return False
    return ".." not in PurePosixPath(rel).parts


def read_repo_file(root: Path, rel: str) -> tuple[str | None, Gap | None]:
    """The text of ``root/rel``, or a gap naming why it was not read.

    A symlink is followed only when its target stays inside ``root``; files above
    :data:`MAX_LOCKFILE_BYTES` are not opened at all.
    """
    if not is_safe_rel(rel):
        return None, Gap("unsafe_path", rel, "path leaves the repository; not read")
    path = root / rel
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            real = os.path.realpath(path)
            real_root = os.path.realpath(root)
            if os.path.commonpath([real, real_root]) != real_root:
                return None, Gap(
                    "unsafe_path", rel, "symlink points outside the repository; not followed"
                )
            st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None, Gap("unreadable_lockfile", rel, "not a regular file")
        if st.st_size > MAX_LOCKFILE_BYTES:
            return None, Gap(
                "lockfile_too_large",
                rel,
                f"{st.st_size} bytes exceeds the {MAX_LOCKFILE_BYTES} byte limit; not read",
            )
        with open(path, "rb") as fh:
            data = fh.read(MAX_LOCKFILE_BYTES + 1)
    except OSError as exc:
        return None, Gap("unreadable_lockfile", rel, f"cannot read: {exc.strerror or exc}")
    if len(data) > MAX_LOCKFILE_BYTES:  # grew between stat and read
        return None, Gap("lockfile_too_large", rel, "file grew past the size limit; not read")
    return data.decode("utf-8-sig", errors="replace"), None


@dataclass
class LockInput:
    """One lockfile being parsed, plus safe access to files next to it (go.sum beside go.mod,
    package.json beside yarn.lock, a -r include)."""

    root: Path
    rel: str
    text: str
    gaps: list[Gap] = field(default_factory=list)

    @property
    def directory(self) -> str:
        """The lockfile's directory relative to the repository root ("" for the root)."""
        parent = PurePosixPath(self.rel).parent.as_posix()
        return "" if parent == "." else parent

    def join(self, relative: str) -> str:
        """``relative`` (as written inside the lockfile) made repository-relative, normalized;
        may start with ``..`` when it climbs out, which :func:`is_safe_rel` then refuses."""
        joined = os.path.normpath(os.path.join(self.directory or ".", relative))
        return PurePosixPath(joined.replace(os.sep, "/")).as_posix()

    def sibling(self, relative: str) -> tuple[str, str] | None:
        """(repo-relative path, text) of a file near the lockfile, or None when it does not
        exist. An unsafe or oversized file is not read and becomes a gap."""
        rel = self.join(relative)
        if not is_safe_rel(rel):
            self.gaps.append(Gap("unsafe_path", self.rel, f"{relative!r} leaves the repository"))
            return None
        if not os.path.lexists(self.root / rel):
            return None
        text, gap = read_repo_file(self.root, rel)
        if gap is not None:
            self.gaps.append(gap)
            return None
        return rel, text or ""

    def workspace_path(self, member_dir: str) -> str:
        """A workspace member's directory (relative to the lockfile) as a repository path."""
        rel = self.join(member_dir or ".")
        return "." if rel in ("", ".") else rel


def merge_component(into: dict[str, Component], comp: Component) -> None:
    """Add ``comp`` under its purl: the first occurrence keeps its identity and location, the
    scope moves towards ``required``, hashes, licences and dependencies are unioned."""
    old = into.get(comp.purl)
    if old is None:
        into[comp.purl] = comp
        return
    scope = old.scope
    if _SCOPE_RANK.get(comp.scope, 0) < _SCOPE_RANK.get(old.scope, 0):
        scope = comp.scope
    hashes = _union(old.hashes, comp.hashes)
    licenses = _union(old.licenses, comp.licenses)
    deps = _union(old.dependencies, comp.dependencies)
    if (
        scope != old.scope
        or hashes is not old.hashes
        or licenses is not old.licenses
        or deps is not old.dependencies
        or (old.workspace is None and comp.workspace is not None)
    ):
        into[comp.purl] = replace(
            old,
            scope=scope,
            hashes=hashes,
            licenses=licenses,
            dependencies=deps,
            workspace=old.workspace if old.workspace is not None else comp.workspace,
        )


def _union(a: tuple, b: tuple) -> tuple:
    if not b or a == b:
        return a
    if not a:
        return b
    seen = set(a)
    extra = tuple(x for x in b if x not in seen)
    return a + extra if extra else a


_LINE_IN_MESSAGE = re.compile(r"line (\d+)")


def line_from_message(message: str) -> int | None:
    """The first ``line N`` a parser library put into its error message (tomllib does)."""
    m = _LINE_IN_MESSAGE.search(message)
    return int(m.group(1)) if m else None


def one_line(message: str, limit: int = 300) -> str:
    return " ".join(str(message).split())[:limit]


class LineIndex:
    """Line numbers of keys found by one linear scan, for formats whose parsers (json, tomllib,
    the C YAML loader) do not report positions."""

    def __init__(self, text: str, pattern: re.Pattern[str], group: int = 1):
        self.lines: dict[str, int] = {}
        self.ordered: list[int] = []
        line, pos = 1, 0
        for m in pattern.finditer(text):
            line += text.count("\n", pos, m.start())
            pos = m.start()
            self.ordered.append(line)
            self.lines.setdefault(m.group(group), line)

    def get(self, key: str) -> int | None:
        return self.lines.get(key)

    def nth(self, index: int) -> int | None:
        return self.ordered[index] if 0 <= index < len(self.ordered) else None


def json_object(src: LockInput) -> dict:
    """The lockfile's top-level JSON object, or Malformed naming the line of the problem."""
    try:
        data = json.loads(src.text)
    except json.JSONDecodeError as exc:
        raise Malformed(f"invalid JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(data, dict):
        raise Malformed("top level is not an object", 1)
    return data


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when built


def yaml_mapping(src: LockInput) -> dict:
    """The lockfile's top-level YAML mapping, or Malformed naming the line of the problem."""
    try:
        data = yaml.load(src.text, Loader=_YAML_LOADER)  # noqa: S506 - safe loaders only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise Malformed(
            f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
            mark.line + 1 if mark is not None else None,
        ) from None
    if not isinstance(data, dict):
        raise Malformed("top level is not a mapping", 1)
    return data

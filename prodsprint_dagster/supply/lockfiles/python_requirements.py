"""pip requirements files (``requirements*.txt``, ``requirements/*.txt``, ``*.in`` excluded).

A hand-written line reader in pip's own order: join ``\\`` continuations, drop comments, split
the requirement from its options (``--hash``), follow ``-r`` includes and apply ``-c``
constraints. Only the requirement itself goes through :mod:`packaging`. An include is read at
most once (cycles end quietly) and never outside the repository. A line that does not pin an
exact version still yields a component (without a version) plus an ``unpinned_requirement``
gap naming file:line, because "we do not know what gets installed" must be visible.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from prodsprint_dagster.supply.lockfiles._base import LockInput, is_safe_rel, read_repo_file
from prodsprint_dagster.supply.lockfiles._purl import make, pep503, prefixed_hash
from prodsprint_dagster.supply.model import Component, Gap

MAX_INCLUDE_DEPTH = 20
_COMMENT = re.compile(r"(^|\s)#.*$")
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
_DEV_WORDS = frozenset(
    {"dev", "develop", "development", "test", "tests", "testing", "lint", "docs", "doc", "ci"}
    | {"typing", "mypy", "style", "qa", "check", "checks"}
)
_TOKEN_SPLIT = re.compile(r"[-_./]+")
_VCS = ("git+", "hg+", "svn+", "bzr+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_INCLUDE_OPTS = {"-r": "r", "--requirement": "r", "-c": "c", "--constraint": "c"}


def scope_of_file(rel: str) -> str:
    """``dev`` for files named for development (requirements-dev.txt, requirements/test.txt,
    dev-requirements.txt), else ``required``."""
    tokens = set(_TOKEN_SPLIT.split(rel.lower()))
    return "dev" if tokens & _DEV_WORDS else "required"


@dataclass
class _Pin:
    version: str
    line: int
    file: str
    hashes: tuple[tuple[str, str], ...] = ()


@dataclass
class _State:
    components: list[Component] = field(default_factory=list)
    unpinned: list[tuple[int, Component]] = field(default_factory=list)
    constraints: dict[str, _Pin] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


def parse(src: LockInput) -> list[Component]:
    state = _State()
    _read_file(src, src.rel, src.text, state, depth=0, constraint=False)
    for index, comp in state.unpinned:
        pin = state.constraints.get(pep503(comp.name))
        if pin is not None:
            state.components[index] = make(
                "PyPI",
                comp.name,
                pin.version,
                source=comp.source,
                line=comp.line,
                scope=comp.scope,
                hashes=comp.hashes or pin.hashes,
            )
        else:
            state.gaps.append(
                Gap(
                    "unpinned_requirement",
                    comp.source,
                    f"{comp.name} is not pinned to one version (use == or a lock); "
                    "the SBOM cannot name what gets installed",
                    comp.line,
                )
            )
    src.gaps.extend(state.gaps)
    return state.components


def logical_lines(text: str):
    """(first physical line number, logical line) after joining ``\\`` continuations and
    dropping comments, as pip reads them."""
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = _COMMENT.sub("", raw) if "#" in raw else raw
        if not buf:
            start = number
        if line.endswith("\\"):
            buf.append(line[:-1])
            continue
        buf.append(line)
        joined = " ".join(part.strip() for part in buf).strip()
        buf = []
        if joined:
            yield start, joined
    if buf:
        joined = " ".join(part.strip() for part in buf).strip()
        if joined:
            yield start, joined


def _read_file(
    src: LockInput, rel: str, text: str, state: _State, *, depth: int, constraint: bool
) -> None:
    state.seen.add(rel)
    scope = scope_of_file(rel)
    for number, line in logical_lines(text):
        if line.startswith("-"):
            _option(src, rel, number, line, state, depth)
            continue
        args, hashes = _split_options(line)
        if not args:
            continue
        _requirement(rel, number, args, hashes, scope, state, constraint=constraint)


def _option(src: LockInput, rel: str, number: int, line: str, state: _State, depth: int) -> None:
    flag, _, value = line.partition(" ")
    if "=" in flag and flag.startswith("--"):
        flag, _, value = flag.partition("=")
    elif flag[:2] in ("-r", "-c", "-e") and len(flag) > 2:
        flag, value = flag[:2], flag[2:]
    value = value.strip()
    if flag in ("-e", "--editable"):
        # An editable VCS checkout is a third-party package; an editable path is own code.
        if value.startswith(_VCS):
            args, hashes = _split_options(value)
            _requirement(rel, number, args, hashes, scope_of_file(rel), state, constraint=False)
        return
    kind = _INCLUDE_OPTS.get(flag)
    if kind is None or not value:
        return  # index URLs, --pre, --no-binary ...: they do not name packages
    target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), value))
    if not is_safe_rel(target):
        state.gaps.append(
            Gap("unsafe_path", rel, f"include {value!r} leaves the repository; not read", number)
        )
        return
    if target in state.seen:
        return  # already read (or a cycle): pip would read the same pins again
    if depth >= MAX_INCLUDE_DEPTH:
        state.gaps.append(Gap("malformed_lockfile", rel, "includes nest too deeply", number))
        return
    text, gap = read_repo_file(src.root, target)
    if gap is not None:
        state.gaps.append(Gap(gap.code, rel, f"include {value!r}: {gap.message}", number))
        return
    _read_file(src, target, text or "", state, depth=depth + 1, constraint=kind == "c")


def _split_options(line: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The requirement part of a line and its ``--hash`` values (pip splits on the first token
    that starts with ``-``)."""
    tokens = line.split()
    for i, tok in enumerate(tokens):
        if tok.startswith("-") and i > 0:
            args, opts = tokens[:i], tokens[i:]
            break
    else:
        return line, ()
    hashes: list[tuple[str, str]] = []
    it = iter(opts)
    for tok in it:
        value = None
        if tok.startswith("--hash="):
            value = tok[len("--hash=") :]
        elif tok == "--hash":
            value = next(it, "")
        if value:
            pair = prefixed_hash(value)
            if pair and pair not in hashes:
                hashes.append(pair)
    return " ".join(args), tuple(hashes)


def _requirement(
    rel: str,
    number: int,
    text: str,
    hashes: tuple[tuple[str, str], ...],
    scope: str,
    state: _State,
    *,
    constraint: bool,
) -> None:
    if text.startswith(_VCS) or _SCHEME.match(text):
        _bare_url(rel, number, text, hashes, scope, state)
        return
    if text.startswith((".", "/", "~")):
        _local_archive(rel, number, text, hashes, scope, state)
        return
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        if text.endswith((".whl", ".tar.gz", ".zip")):
            _local_archive(rel, number, text, hashes, scope, state)
            return
        state.gaps.append(
            Gap("malformed_lockfile", rel, f"not a requirement: {str(exc)[:200]}", number)
        )
        return
    name = req.name
    if req.url:
        version, qualifiers, pinned = _url_version(req.url)
        comp = make(
            "PyPI",
            name,
            version,
            source=rel,
            line=number,
            scope=scope,
            hashes=hashes,
            qualifiers=qualifiers,
        )
        if constraint:
            return
        state.components.append(comp)
        if not pinned:
            state.gaps.append(
                Gap(
                    "unpinned_requirement",
                    rel,
                    f"{name} comes from a URL without a fixed version or commit",
                    number,
                )
            )
        return
    version = _exact_version(req)
    if constraint:
        if version:
            state.constraints.setdefault(pep503(name), _Pin(version, number, rel, hashes))
        return
    comp = make("PyPI", name, version, source=rel, line=number, scope=scope, hashes=hashes)
    state.components.append(comp)
    if version is None:
        state.unpinned.append((len(state.components) - 1, comp))


def _exact_version(req: Requirement) -> str | None:
    specs = list(req.specifier)
    if len(specs) != 1:
        return None
    spec = specs[0]
    if spec.operator == "===" or (spec.operator == "==" and "*" not in spec.version):
        return spec.version
    return None


def _url_version(url: str) -> tuple[str | None, tuple[tuple[str, str], ...], bool]:
    """(version, purl qualifiers, pinned) for ``name @ URL``: a VCS URL is pinned by its
    ``@ref``; an archive URL by the version in its file name."""
    if url.startswith(_VCS):
        base = url.split("#", 1)[0]
        scheme_host, _, path = base.partition("://")
        ref = None
        if "@" in path.rsplit("/", 1)[-1]:
            path, _, ref = path.rpartition("@")
        vcs_url = f"{scheme_host}://{path}" + (f"@{ref}" if ref else "")
        return ref, (("vcs_url", vcs_url),), bool(ref)
    filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    version = _archive_version(filename)
    return version, (("download_url", url.split("#", 1)[0]),), version is not None


def _archive_version(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return None


def _archive_name(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return None


def _bare_url(
    rel: str,
    number: int,
    text: str,
    hashes: tuple[tuple[str, str], ...],
    scope: str,
    state: _State,
) -> None:
    """A URL with no ``name @`` in front: the name comes from ``#egg=`` or the file name."""
    m = _EGG.search(text)
    filename = unquote(urlsplit(text.split("#", 1)[0]).path.rsplit("/", 1)[-1])
    name = m.group(1) if m else _archive_name(filename)
    if not name:
        state.gaps.append(
            Gap("unpinned_requirement", rel, "URL requirement names no package (#egg=)", number)
        )
        return
    version, qualifiers, pinned = _url_version(text)
    state.components.append(
        make(
            "PyPI",
            name,
            version,
            source=rel,
            line=number,
            scope=scope,
            hashes=hashes,
            qualifiers=qualifiers,
        )
    )
    if not pinned:
        state.gaps.append(
            Gap(
                "unpinned_requirement",
                rel,
                f"{name} comes from a URL without a fixed version or commit",
                number,
            )
        )


def _local_archive(
    rel: str,
    number: int,
    text: str,
    hashes: tuple[tuple[str, str], ...],
    scope: str,
    state: _State,
) -> None:
    """A local path: an archive is a (vendored) package; a directory is the project's own code,
    which is not a third-party component."""
    filename = text.rsplit("/", 1)[-1]
    name = _archive_name(filename)
    if name:
        state.components.append(
            make(
                "PyPI",
                name,
                _archive_version(filename),
                source=rel,
                line=number,
                scope=scope,
                hashes=hashes,
            )
        )

"""Gemfile.lock (Bundler 1.x/2.x, with or without ``CHECKSUMS``), read by a line parser.

``GEM`` and ``GIT`` specs are third-party gems (a GIT gem carries its ``remote@revision``);
``PATH`` specs are the repository's own gems and are not emitted. Platform-specific specs
(``nokogiri (1.15.5-x86_64-linux)``) are one component per name and version. The lock does
not record groups, so the sibling Gemfile is read for ``group :development, :test`` blocks and
``group:`` options, and scope follows the spec graph from ``DEPENDENCIES``.
"""

from __future__ import annotations

import re
from dataclasses import replace

from prodsprint_dagster.supply.lockfiles._base import LockInput, Malformed
from prodsprint_dagster.supply.lockfiles._graph import reachability_scopes
from prodsprint_dagster.supply.lockfiles._purl import hex_hash, make
from prodsprint_dagster.supply.model import Component

_PLATFORM = re.compile(
    r"(x86|x64|arm|aarch64|universal|java|jruby|mswin|mingw|i386|i686|powerpc|sparc|wasm|riscv)"
)
_GEM_LINE = re.compile(r"""^\s*gem\s*\(?\s*["']([^"']+)["'](.*)$""")
_GROUP_WORDS = re.compile(r":(\w+)|[\"'](\w+)[\"']")
_DEV_GROUPS = frozenset({"development", "test"})
_SOURCES = ("GEM", "GIT", "PATH", "PLUGIN SOURCE")


def _name_version(body: str, number: int) -> tuple[str, str]:
    name, sep, rest = body.partition(" (")
    if not sep or not rest.endswith(")"):
        raise Malformed(f"expected 'name (version)', got {body!r}", number)
    version = rest[:-1]
    head, dash, tail = version.partition("-")
    if dash and _PLATFORM.match(tail):
        version = head
    return name, version


def parse(src: LockInput) -> list[Component]:
    section = None
    remote = revision = ""
    specs: dict[tuple[str, str], dict] = {}
    local: set[str] = set()
    current: dict | None = None
    direct: list[str] = []
    checksums: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for number, raw in enumerate(src.text.splitlines(), 1):
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        body = raw.strip()
        if indent == 0:
            section = body
            remote = revision = ""
            current = None
            continue
        if section is None:
            raise Malformed("indented line before any section", number)
        if section in _SOURCES:
            if indent == 2:
                key, _, value = body.partition(":")
                if key == "remote":
                    remote = value.strip()
                elif key == "revision":
                    revision = value.strip()
                continue
            if indent == 4:
                name, version = _name_version(body, number)
                if section == "PATH":
                    local.add(name)
                    current = None
                    continue
                current = specs.setdefault(
                    (name, version),
                    {"line": number, "deps": [], "git": None},
                )
                if section == "GIT" and remote:
                    current["git"] = f"{remote}@{revision}" if revision else remote
                continue
            if indent >= 6 and current is not None:
                current["deps"].append(body.split(" ", 1)[0])
            continue
        if section == "DEPENDENCIES" and indent == 2:
            direct.append(body.split(" ", 1)[0].rstrip("!"))
        elif section == "CHECKSUMS" and indent == 2:
            head, _, digest = body.rpartition(" ")
            name, version = _name_version(head, number)
            alg, _, value = digest.partition("=")
            pair = hex_hash("SHA-256", value) if alg == "sha256" else None
            if pair:
                checksums.setdefault((name, version), []).append(pair)
    if not specs and not local and not direct:
        raise Malformed("no GEM, GIT or PATH specs (is this a Gemfile.lock?)", 1)

    by_name: dict[str, tuple[str, str]] = {}
    for key in specs:
        by_name.setdefault(key[0], key)
    comps: dict[tuple[str, str], Component] = {}
    for key, spec in specs.items():
        comps[key] = make(
            "RubyGems",
            key[0],
            key[1],
            source=src.rel,
            line=spec["line"],
            hashes=tuple(dict.fromkeys(checksums.get(key, ()))),
            qualifiers=(("vcs_url", spec["git"]),) if spec["git"] else (),
        )
    edges = {
        key: [by_name[d] for d in spec["deps"] if d in by_name and d not in local]
        for key, spec in specs.items()
    }
    groups = _gemfile_groups(src)
    roots: dict[str, list] = {"required": [], "optional": [], "dev": []}
    for name in direct:
        if name in by_name:
            wanted = groups.get(name)
            dev = bool(wanted) and wanted <= _DEV_GROUPS
            roots["dev" if dev else "required"].append(by_name[name])
    for name in local:  # a local gem's own dependencies ship with it
        for key, spec in specs.items():
            if key[0] == name:
                roots["required"].extend(by_name[d] for d in spec["deps"] if d in by_name)
    scopes = reachability_scopes(edges, roots) if groups else {}
    out = []
    for key, comp in comps.items():
        deps = tuple(dict.fromkeys(comps[t].purl for t in edges[key] if t != key))
        out.append(replace(comp, scope=scopes.get(key, "required"), dependencies=deps))
    return out


def _gemfile_groups(src: LockInput) -> dict[str, set[str]]:
    """gem name -> the groups the Gemfile puts it in (empty set: the default group)."""
    found = src.sibling("Gemfile") or src.sibling("gems.rb")
    if found is None:
        return {}
    out: dict[str, set[str]] = {}
    default: set[str] = set()
    stack: list[set[str]] = []
    for raw in found[1].splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line == "end":
            if stack:
                stack.pop()
            continue
        m = _GEM_LINE.match(line)
        if m:
            name, rest = m.group(1), m.group(2)
            inline: set[str] = set()
            gm = re.search(r"(?:group|groups)\s*(?::|=>)\s*(\[[^\]]*\]|:\w+|[\"']\w+[\"'])", rest)
            if gm:
                inline = {a or b for a, b in _GROUP_WORDS.findall(gm.group(1))}
            groups = (set().union(*stack) if stack else set()) | inline
            out.setdefault(name, set()).update(groups)
            if not groups:
                default.add(name)
            continue
        opens = (
            line.endswith(" do")
            or " do |" in line
            or line.startswith(("if ", "unless ", "case ", "begin", "while "))
        )
        if opens:
            if line.startswith("group"):
                stack.append({a or b for a, b in _GROUP_WORDS.findall(line.split(" do", 1)[0])})
            else:
                stack.append(set())
    for name in default:  # declared (also) outside any group: it ships
        out[name] = set()
    return out

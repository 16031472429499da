"""Maven pom.xml: the dependencies a POM declares (Maven has no lockfile).

``${property}`` references resolve from ``<properties>``, the project's own coordinates and a
parent POM found inside the repository (``<relativePath>``, default ``../pom.xml``), at most a
few levels up. A dependency without a version takes it from ``<dependencyManagement>``;
managed entries nobody uses are not components. ``test`` scope is dev, ``provided``/``system``
and ``<optional>true</optional>`` are optional. A version that stays unknown (an unresolvable
property, a parent outside the repository, a version range) gives a component without a
version and a gap. The XML is read with expat, refusing any DTD, so no entity is ever expanded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.parsers import expat

from prodsprint_dagster.supply.lockfiles._base import LockInput, Malformed, is_safe_rel
from prodsprint_dagster.supply.lockfiles._purl import make
from prodsprint_dagster.supply.model import Component, Gap

MAX_XML_DEPTH = 100
MAX_PARENT_DEPTH = 5
_PROPERTY = re.compile(r"\$\{([^}]+)\}")
_SCOPES = {"test": "dev", "provided": "optional", "system": "optional"}


@dataclass
class _Node:
    tag: str
    line: int
    children: list[_Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def child(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def value(self, tag: str) -> str | None:
        node = self.child(tag)
        return "".join(node.text).strip() if node is not None else None

    def path(self, *tags: str) -> list[_Node]:
        nodes = [self]
        for tag in tags:
            nodes = [c for n in nodes for c in n.children if c.tag == tag]
        return nodes


def parse_xml(text: str) -> _Node:
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Node] = []
    root: list[_Node] = []

    def refuse_doctype(*_args) -> None:
        raise Malformed("document type declarations are refused", parser.CurrentLineNumber)

    def start(tag: str, _attrs) -> None:
        if len(stack) >= MAX_XML_DEPTH:
            raise Malformed("XML nests too deeply", parser.CurrentLineNumber)
        node = _Node(tag.rsplit(":", 1)[-1], parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(_tag: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        if stack:
            stack[-1].text.append(data)

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise Malformed(f"invalid XML: {expat.ErrorString(exc.code)}", exc.lineno) from None
    if not root:
        raise Malformed("empty document", 1)
    return root[0]


@dataclass
class _Context:
    properties: dict[str, str] = field(default_factory=dict)
    managed: dict[tuple[str, str], tuple[str | None, int]] = field(default_factory=dict)


def _collect(project: _Node, ctx: _Context, *, own: bool) -> None:
    """Merge a POM's properties and managed versions into ``ctx`` (a child's win)."""
    props = {}
    for node in project.path("properties"):
        for prop in node.children:
            props[prop.tag] = "".join(prop.text).strip()
    parent = project.child("parent")
    group = project.value("groupId") or (parent.value("groupId") if parent else None)
    version = project.value("version") or (parent.value("version") if parent else None)
    builtins = {
        "project.groupId": group,
        "project.artifactId": project.value("artifactId"),
        "project.version": version,
        "pom.version": version,
        "version": version,
        "groupId": group,
    }
    if parent is not None:
        builtins["project.parent.version"] = parent.value("version")
        builtins["project.parent.groupId"] = parent.value("groupId")
    merged = {k: v for k, v in builtins.items() if v}
    merged.update(props)
    if own:
        ctx.properties.update(merged)
    else:
        for k, v in merged.items():
            ctx.properties.setdefault(k, v)
    for dep in project.path("dependencyManagement", "dependencies", "dependency"):
        key = (dep.value("groupId") or "", dep.value("artifactId") or "")
        if own:
            ctx.managed[key] = (dep.value("version"), dep.line)
        else:
            ctx.managed.setdefault(key, (dep.value("version"), dep.line))


def interpolate(value: str, properties: dict[str, str]) -> tuple[str, str | None]:
    """(value with ``${...}`` resolved, first unresolvable property name or None); nested
    references resolve over a few rounds, a reference cycle stays unresolved."""
    for _ in range(10):
        names = _PROPERTY.findall(value)
        if not names:
            return value, None
        missing = next((n for n in names if n not in properties), None)
        if missing is not None:
            return value, missing
        value = _PROPERTY.sub(lambda m: properties[m.group(1)], value)
    names = _PROPERTY.findall(value)
    return value, names[0] if names else None


def parse(src: LockInput) -> list[Component]:
    project = parse_xml(src.text)
    if project.tag != "project":
        raise Malformed(f"root element is <{project.tag}>, not <project>", project.line)
    ctx = _Context()
    _collect(project, ctx, own=True)
    _parents(src, project, ctx)
    out: list[Component] = []
    for dep in project.path("dependencies", "dependency"):
        group = interpolate(dep.value("groupId") or "", ctx.properties)[0]
        artifact = interpolate(dep.value("artifactId") or "", ctx.properties)[0]
        if not group or not artifact:
            src.gaps.append(
                Gap(
                    "malformed_lockfile", src.rel, "dependency without groupId/artifactId", dep.line
                )
            )
            continue
        raw_scope = (dep.value("scope") or "compile").strip()
        if raw_scope == "import":
            continue
        scope = _SCOPES.get(raw_scope, "required")
        if (dep.value("optional") or "").strip() == "true" and scope == "required":
            scope = "optional"
        raw = dep.value("version")
        if raw is None:
            managed = ctx.managed.get((dep.value("groupId") or "", dep.value("artifactId") or ""))
            raw = managed[0] if managed else None
        version, problem = (None, "no version here, in dependencyManagement or a parent POM")
        if raw:
            resolved, missing = interpolate(raw, ctx.properties)
            if missing:
                problem = f"property ${{{missing}}} is not defined in this repository"
            elif resolved.startswith(("[", "(")) or "," in resolved:
                problem = f"version range {resolved!r} is not one version"
            else:
                version, problem = resolved, None
        out.append(
            make(
                "Maven", f"{group}:{artifact}", version, source=src.rel, line=dep.line, scope=scope
            )
        )
        if problem:
            src.gaps.append(
                Gap("unresolved_version", src.rel, f"{group}:{artifact}: {problem}", dep.line)
            )
    return out


def _parents(src: LockInput, project: _Node, ctx: _Context) -> None:
    current, base = project, src
    for _ in range(MAX_PARENT_DEPTH):
        parent = current.child("parent")
        if parent is None:
            return
        rel = parent.value("relativePath")
        rel = "../pom.xml" if rel is None else rel
        if not rel:
            return
        if not rel.endswith(".xml"):
            rel = rel.rstrip("/") + "/pom.xml"
        if not is_safe_rel(base.join(rel)):
            return  # the parent lives outside the repository (usually in a registry)
        found = base.sibling(rel)
        if found is None:
            return
        try:
            node = parse_xml(found[1])
        except Malformed:
            return
        _collect(node, ctx, own=False)
        current = node
        base = LockInput(src.root, found[0], found[1], src.gaps)

"""Scopes from the dependency graph, for lockfiles that record edges but not dev-ness
(yarn, pnpm v9, bun, uv, poetry 2.0, Gemfile.lock with its Gemfile).

A package is ``required`` when production roots reach it through required edges, else
``optional`` when it is reached through an optional root or edge (``optionalDependencies``),
else ``dev`` when only development roots reach it. Packages no root reaches keep the
conservative ``required``: an SBOM that over-states what ships is safer than one that hides a
vulnerable package as "dev".
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping


def reachability_scopes(
    edges: Mapping[Hashable, Iterable[Hashable]],
    roots: Mapping[str, Iterable[Hashable]],
    optional_edges: Mapping[Hashable, Iterable[Hashable]] | None = None,
) -> dict[Hashable, str]:
    """Scope per node reached from ``roots`` (keys ``required``/``optional``/``dev``)."""
    optional_edges = optional_edges or {}
    scope: dict[Hashable, str] = {}

    def flood(start: Iterable[Hashable], name: str, *, follow_optional: bool) -> None:
        stack = []
        for r in start:
            if r not in scope:
                scope[r] = name
                stack.append(r)
        while stack:
            node = stack.pop()
            nexts = list(edges.get(node, ()))
            if follow_optional:
                nexts.extend(optional_edges.get(node, ()))
            for nxt in nexts:
                if nxt not in scope:
                    scope[nxt] = name
                    stack.append(nxt)

    flood(roots.get("required", ()), "required", follow_optional=False)
    required = [n for n, s in scope.items() if s == "required"]
    optional_start = list(roots.get("optional", ()))
    optional_start += [t for n in required for t in optional_edges.get(n, ())]
    flood(optional_start, "optional", follow_optional=True)
    flood(roots.get("dev", ()), "dev", follow_optional=True)
    return scope


def without_incoming(edges: Mapping[Hashable, Iterable[Hashable]]) -> set[Hashable]:
    """Nodes nothing depends on: the direct dependencies when only the graph is known."""
    nodes = set(edges)
    targets = {t for deps in edges.values() for t in deps}
    return nodes - targets

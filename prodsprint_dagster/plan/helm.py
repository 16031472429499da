"""A deliberately tiny subset of Helm templating, so generated charts can be checked offline.

The charts this package writes use only ``{{ .Values.a.b }}`` (scalars from values.yaml) and
the ``{{ "{{" }}`` / ``{{ "}}" }}`` escapes that pass Argo Rollouts' own ``{{args.x}}`` through
Helm. That keeps them ordinary Helm charts (``helm template`` gives the same output) while
tests, cost and diff can render them without a ``helm`` binary. Anything else is refused, so a
template that this renderer cannot reproduce faithfully is caught when it is generated.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from prodsprint_dagster.plan.model import PlanError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ACTION = re.compile(r'\{\{ "(\{\{|\}\})" \}\}|\{\{(.*?)\}\}')
_VALUE = re.compile(r"^\s*\.Values\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*$")


def _lookup(values: dict[str, Any], path: str, file: str) -> str:
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise PlanError(f"{file}: .Values.{path} is not set in values.yaml")
        node = node[part]
    if isinstance(node, dict | list):
        raise PlanError(f"{file}: .Values.{path} is not a scalar")
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def render_template(text: str, values: dict[str, Any], file: str = "template") -> str:
    """Render one template of the supported subset; raise :class:`PlanError` on anything else."""

    def sub(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(1)
        inner = match.group(2)
        value = _VALUE.match(inner)
        if not value:
            raise PlanError(f"{file}: unsupported template action {match.group(0)!r}")
        return _lookup(values, value.group(1), file)

    return _ACTION.sub(sub, text)


def render_chart(
    files: dict[str, str], chart_dir: str, overrides: dict[str, Any] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Render every template of the chart at ``chart_dir``: file -> its Kubernetes objects."""
    values = yaml.load(files[f"{chart_dir}/values.yaml"], Loader=_LOADER) or {}  # noqa: S506
    for key, value in (overrides or {}).items():
        values[key] = value
    out: dict[str, list[dict[str, Any]]] = {}
    prefix = f"{chart_dir}/templates/"
    for path in sorted(files):
        if path.startswith(prefix) and path.endswith(".yaml"):
            text = render_template(files[path], values, path)
            out[path] = [doc for doc in yaml.load_all(text, Loader=_LOADER) if doc]
    return out

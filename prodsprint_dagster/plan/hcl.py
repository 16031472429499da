"""A small HCL writer that emits `terraform fmt`-clean text from Python data.

Rendering from data (not from text templates) keeps every value escaped in one place, so an
env var name or default taken from an untrusted repository can never inject HCL, and the same
data doubles as the plan's resource list that cost and diff read. The layout rules are the ones
`terraform fmt` (hclwrite) applies: two-space indent, and the ``=`` of consecutive single-line
attributes aligned; a multi-line value, a nested block or a blank line ends an alignment run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_BARE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Expr:
    """A raw HCL expression (a reference, a function call). Only this package builds them."""

    text: str


@dataclass(frozen=True)
class Call:
    """``name(arg)``, e.g. ``jsonencode({...})``, with ``arg`` rendered as data."""

    name: str
    arg: Any


@dataclass
class Block:
    """``type "label" ... { body }``; body items are ``(name, value)`` pairs or nested blocks."""

    type: str
    labels: tuple[str, ...] = ()
    body: list[Any] = field(default_factory=list)

    def attr(self, name: str, value: Any) -> Block:
        if value is not None:
            self.body.append((name, value))
        return self

    def block(self, type_: str, *labels: str) -> Block:
        child = Block(type_, tuple(labels))
        self.body.append(child)
        return child


def quote(text: str) -> str:
    """An HCL string literal; ``${`` and ``%{`` are escaped so nothing is ever interpolated."""
    out = json.dumps(text, ensure_ascii=False)
    return out.replace("${", "$${").replace("%{", "%%{")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else quote(name)


def _inline(value: Any) -> str | None:
    """The one-line rendering of ``value``, or None when it needs several lines."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, Expr):
        return value.text
    if isinstance(value, dict):
        return None if value else "{}"
    if isinstance(value, list | tuple):
        parts = [_inline(v) for v in value]
        if all(p is not None for p in parts):
            text = "[" + ", ".join(parts) + "]"  # type: ignore[arg-type]
            if len(text) <= 100:
                return text
        return None
    if isinstance(value, Call):
        inner = _inline(value.arg)
        return None if inner is None else f"{value.name}({inner})"
    if value is None:
        return "null"
    raise TypeError(f"cannot render {type(value).__name__} as HCL")


def _value_lines(value: Any, indent: str) -> list[str]:
    """Lines of a value; the first continues the line it starts on (after ``key = ``)."""
    one = _inline(value)
    if one is not None:
        return [one]
    inner = indent + "  "
    if isinstance(value, dict):
        return ["{", *_attr_lines(list(value.items()), inner, object_keys=True), indent + "}"]
    if isinstance(value, list | tuple):
        lines = ["["]
        for item in value:
            item_lines = _value_lines(item, inner)
            lines.append(inner + item_lines[0])
            lines.extend(item_lines[1:])
            lines[-1] += ","
        lines.append(indent + "]")
        return lines
    if isinstance(value, Call):
        arg = _value_lines(value.arg, indent)
        return [f"{value.name}({arg[0]}", *arg[1:-1], arg[-1] + ")"]
    raise TypeError(f"cannot render {type(value).__name__} as HCL")


def _attr_lines(items: list[Any], indent: str, *, object_keys: bool = False) -> list[str]:
    """Body lines with fmt's alignment of consecutive single-line attributes."""
    lines: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(k) for k, _ in run), default=0)
        lines.extend(f"{indent}{k.ljust(width)} = {v}" for k, v in run)
        run.clear()

    for n, item in enumerate(items):
        if isinstance(item, Block):
            flush()
            if n:
                lines.append("")
            lines.extend(_block_lines(item, indent))
            continue
        name, value = item
        key = _key(name) if object_keys else name
        if not object_keys and not _IDENT.match(name):
            raise ValueError(f"bad HCL attribute name {name!r}")
        rendered = _value_lines(value, indent)
        if len(rendered) == 1:
            run.append((key, rendered[0]))
            continue
        flush()
        lines.append(f"{indent}{key} = {rendered[0]}")
        lines.extend(rendered[1:])
    flush()
    return lines


def _block_lines(block: Block, indent: str) -> list[str]:
    head = " ".join([block.type, *(quote(label) for label in block.labels)])
    if not block.body:
        return [f"{indent}{head} {{", f"{indent}}}"]
    return [f"{indent}{head} {{", *_attr_lines(block.body, indent + "  "), f"{indent}}}"]


def render(blocks: list[Block]) -> str:
    """A whole ``.tf`` file: top-level blocks separated by one blank line."""
    chunks = ["\n".join(_block_lines(b, "")) for b in blocks]
    return "\n\n".join(chunks) + "\n"


def to_json(value: Any) -> Any:
    """The JSON view of rendered data (expressions as ``${...}``), for the plan's resources."""
    if isinstance(value, Expr):
        return "${" + value.text + "}"
    if isinstance(value, Call):
        return {"$call": value.name, "arg": to_json(value.arg)}
    if isinstance(value, Block):
        return body_json(value.body)
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def body_json(body: list[Any]) -> dict[str, Any]:
    """Attributes as keys; nested blocks as lists under their type (Terraform's JSON shape)."""
    out: dict[str, Any] = {}
    for item in body:
        if isinstance(item, Block):
            out.setdefault(item.type, []).append(to_json(item))
        else:
            out[item[0]] = to_json(item[1])
    return out

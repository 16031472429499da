"""Safe parsers for the repository's YAML, JSON, TOML and XML that keep line numbers.

Every fact in the report cites a line, so YAML mappings and sequences remember where each key
and item started. Parsers never execute anything (PyYAML's safe loader, tomllib, json, expat
through ElementTree, which resolves no external entities and, with expat >= 2.4, bounds entity
expansion). A parse failure is returned, not raised: the caller turns it into a gap.
"""

from __future__ import annotations

import json
import re
import tomllib
import xml.etree.ElementTree as ET
from typing import Any

import yaml

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict):
    """A mapping that knows the line of each key (1-based)."""

    lines: dict[Any, int]

    def line(self, key: Any, default: int = 1) -> int:
        return getattr(self, "lines", {}).get(key, default)


class LineList(list):
    """A sequence that knows the line of each item (1-based)."""

    lines: list[int]

    def line(self, index: int, default: int = 1) -> int:
        lines = getattr(self, "lines", [])
        return lines[index] if 0 <= index < len(lines) else default


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    pass


def _construct_map(loader: Any, node: yaml.MappingNode):
    data = LineDict()
    data.lines = {}
    yield data
    data.update(loader.construct_mapping(node))
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            data.lines.setdefault(key_node.value, key_node.start_mark.line + 1)


def _construct_seq(loader: Any, node: yaml.SequenceNode):
    data = LineList()
    data.lines = [n.start_mark.line + 1 for n in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_yaml_all(text: str) -> tuple[list[Any], str | None]:
    """All documents of a YAML stream, or the parser's message."""
    try:
        return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None], None
    except yaml.YAMLError as exc:
        return [], _one_line(str(exc))
    except (RecursionError, ValueError, TypeError) as exc:
        return [], _one_line(f"{type(exc).__name__}: {exc}")


def load_json(text: str) -> tuple[Any, str | None]:
    try:
        return json.loads(text), None
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        return None, _one_line(str(exc))


def load_toml(text: str) -> tuple[dict | None, str | None]:
    try:
        return tomllib.loads(text), None
    except (tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:
        return None, _one_line(str(exc))


def load_xml(text: str) -> tuple[ET.Element | None, str | None]:
    if re.search(r"<!ENTITY", text[:4096]):
        return None, "document type declares entities; refused"
    try:
        return ET.fromstring(text), None  # noqa: S314 - see module docstring
    except (ET.ParseError, RecursionError, ValueError) as exc:
        return None, _one_line(str(exc))


def _one_line(msg: str) -> str:
    return " ".join(msg.split())[:300]


def xml_local(tag: str) -> str:
    """The tag without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def line_of(text: str, needle: str | re.Pattern[str], start: int = 0) -> int:
    """1-based line of the first occurrence of ``needle`` (a string or regex), else 1."""
    if isinstance(needle, str):
        pos = text.find(needle, start)
    else:
        m = needle.search(text, start)
        pos = m.start() if m else -1
    return text.count("\n", 0, pos) + 1 if pos >= 0 else 1

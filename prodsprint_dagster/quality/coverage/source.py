"""Reading a report from an untrusted place: bounded size, entity-free XML, strict JSON.

Reports come from repositories and CI uploads, so they are parsed as hostile: XML through
defusedxml (no entity declarations, no external references: no billion laughs, no XXE), a
size bound before any parsing, and every failure re-raised naming the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from prodsprint_dagster.quality.coverage.errors import CoverageReportError

MAX_REPORT_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Report:
    """A report's bytes and the name it is reported under (repository path or artifact key)."""

    name: str
    data: bytes

    @classmethod
    def from_path(cls, path: Path, name: str | None = None) -> Report:
        name = name or str(path)
        try:
            size = path.stat().st_size
            if size > MAX_REPORT_BYTES:
                raise CoverageReportError(
                    f"{name}: report is {size} bytes, over the {MAX_REPORT_BYTES} byte limit"
                )
            return cls(name, path.read_bytes())
        except OSError as exc:
            raise CoverageReportError(f"{name}: cannot read the report: {exc.strerror}") from None

    def text(self) -> str:
        try:
            return self.data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CoverageReportError(f"{self.name}: not UTF-8 text ({exc.reason})") from None

    def xml(self) -> Element:
        if len(self.data) > MAX_REPORT_BYTES:
            raise CoverageReportError(f"{self.name}: report over the {MAX_REPORT_BYTES} byte limit")
        try:
            return SafeET.fromstring(self.data)
        except DefusedXmlException as exc:
            raise CoverageReportError(
                f"{self.name}: refused: the XML declares entities or external references "
                f"({type(exc).__name__})"
            ) from None
        except ParseError as exc:
            raise CoverageReportError(
                f"{self.name}: not well-formed XML (corrupt or truncated): {exc}"
            ) from None

    def json(self) -> Any:
        try:
            return json.loads(self.text())
        except ValueError as exc:
            raise CoverageReportError(
                f"{self.name}: not valid JSON (corrupt or truncated): {exc}"
            ) from None

    def fail(self, problem: str) -> CoverageReportError:
        return CoverageReportError(f"{self.name}: {problem}")


def local_name(tag: str) -> str:
    """``{namespace}testsuite`` -> ``testsuite``."""
    return tag.rsplit("}", 1)[-1]


def as_int(report: Report, value: Any, what: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise report.fail(f"{what} is not an integer: {str(value)[:40]!r}") from None

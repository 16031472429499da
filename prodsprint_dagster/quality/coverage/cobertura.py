"""Cobertura XML: coverage.py ``coverage xml``, istanbul/nyc, gcovr, Cobertura for Java, .NET.

Several ``<class>`` elements may name one file (Java inner classes, nyc's per-function
entries); their lines are merged. File names are resolved against the ``<source>`` roots.
"""

from __future__ import annotations

import re

from prodsprint_dagster.quality.coverage.model import CoverageData
from prodsprint_dagster.quality.coverage.paths import PathMapper
from prodsprint_dagster.quality.coverage.source import Report, as_int, local_name

_CONDITION = re.compile(r"\((\d+)\s*/\s*(\d+)\)")


def read_cobertura(report: Report, mapper: PathMapper) -> CoverageData:
    root = report.xml()
    if local_name(root.tag) != "coverage":
        raise report.fail(f"not a Cobertura report (root element <{local_name(root.tag)}>)")
    sources = [(s.text or "").strip() for s in root.iter() if local_name(s.tag) == "source"]
    data = CoverageData()
    for cls in root.iter():
        if local_name(cls.tag) != "class":
            continue
        filename = cls.get("filename")
        if not filename:
            raise report.fail(f"<class name={cls.get('name')!r}> has no filename attribute")
        fc = data.file(mapper.map(filename, sources))
        for line in cls.iter():
            if local_name(line.tag) != "line":
                continue
            number = as_int(report, line.get("number"), f"{filename}: line number")
            hits = as_int(report, line.get("hits", "0"), f"{filename}:{number}: hits")
            fc.hit(number, hits)
            if line.get("branch", "false").lower() == "true":
                match = _CONDITION.search(line.get("condition-coverage") or "")
                if match:
                    fc.branch(number, int(match.group(1)), int(match.group(2)))
    return data

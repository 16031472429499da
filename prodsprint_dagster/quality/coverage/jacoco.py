"""JaCoCo XML (``jacocoTestReport.xml``, ``jacoco.xml``): packages, sourcefiles, line counters.

A line is coverable when it has instructions (``mi + ci > 0``) and covered when any of them ran
(``ci > 0``); its branches are ``mb + cb`` of which ``cb`` were taken. Source files are named by
package path (``com/acme/Shop.java``) and matched to the repository by path suffix.
"""

from __future__ import annotations

from prodsprint_dagster.quality.coverage.model import CoverageData
from prodsprint_dagster.quality.coverage.paths import PathMapper
from prodsprint_dagster.quality.coverage.source import Report, as_int, local_name


def read_jacoco(report: Report, mapper: PathMapper) -> CoverageData:
    root = report.xml()
    if local_name(root.tag) != "report":
        raise report.fail(f"not a JaCoCo report (root element <{local_name(root.tag)}>)")
    data = CoverageData()
    for package in root.iter():
        if local_name(package.tag) != "package":
            continue
        prefix = (package.get("name") or "").strip("/")
        for sourcefile in package:
            if local_name(sourcefile.tag) != "sourcefile":
                continue
            name = sourcefile.get("name")
            if not name:
                raise report.fail(f"<sourcefile> in package {prefix!r} has no name attribute")
            path = f"{prefix}/{name}" if prefix else name
            fc = data.file(mapper.map(path))
            for line in sourcefile:
                if local_name(line.tag) != "line":
                    continue
                where = f"{path}: line"
                nr = as_int(report, line.get("nr"), where)
                mi, ci, mb, cb = (
                    as_int(report, line.get(k, "0"), f"{where} {nr} {k}")
                    for k in ("mi", "ci", "mb", "cb")
                )
                if mi + ci > 0:
                    fc.hit(nr, ci)
                if mb + cb > 0:
                    fc.branch(nr, cb, mb + cb)
    return data

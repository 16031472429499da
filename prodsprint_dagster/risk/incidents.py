"""Incidents: imported from CSV / JSON files and recorded at every rollback.

An incident names what caused it, a commit (hex sha) or a release (``rel-N``); resolved to
the release's commit it labels that commit as incident-inducing for the risk model. Files
are user input: each row is validated on its own, a bad row is reported with its line and
never stops the good rows, and re-importing a file updates rows instead of duplicating them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prodsprint_dagster.errors import InvalidNameError, ProdSprintError
from prodsprint_dagster.names import validate_repo_name
from prodsprint_dagster.store import HistoryStore

FIELDS = (
    "id", "repo", "service", "opened_at", "resolved_at", "severity", "caused_by",
    "caused_by_release", "title",
)  # fmt: skip
SEVERITIES = {
    "critical": "critical", "sev1": "critical", "p1": "critical",
    "high": "high", "major": "high", "sev2": "high", "p2": "high",
    "medium": "medium", "moderate": "medium", "sev3": "medium", "p3": "medium",
    "low": "low", "minor": "low", "sev4": "low", "p4": "low", "sev5": "low", "p5": "low",
}  # fmt: skip
_SHA = re.compile(r"[0-9a-f]{7,64}")
_RELEASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
_MAX_BYTES = 50 << 20
_MAX_TEXT = 500


class IncidentFileError(ProdSprintError):
    """The incidents file as a whole cannot be read (missing, too big, not CSV/JSON)."""


def _when(value: Any, field: str, *, required: bool) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"{field} is required")
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    text = str(value).strip()
    if re.fullmatch(r"\d{9,11}", text):
        return datetime.fromtimestamp(int(text), UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field} {text[:40]!r} is not an ISO 8601 date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: Any, field: str, *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"{field} is required")
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"{field} must be text")
    text = str(value).strip()
    if len(text) > _MAX_TEXT:
        raise ValueError(f"{field} is longer than {_MAX_TEXT} characters")
    return text


def validate_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of one incident, or ValueError saying what is wrong with it."""
    try:
        repo = validate_repo_name(_text(row.get("repo"), "repo", required=True))
    except InvalidNameError as exc:
        raise ValueError(str(exc)) from None
    severity_raw = _text(row.get("severity"), "severity", required=True)
    severity = SEVERITIES.get(severity_raw.lower())
    if severity is None:
        raise ValueError(
            f"severity {severity_raw!r} is not one of critical, high, medium, low (or sev1-sev5)"
        )
    opened = _when(row.get("opened_at"), "opened_at", required=True)
    resolved = _when(row.get("resolved_at"), "resolved_at", required=False)
    if resolved is not None and resolved < opened:
        raise ValueError("resolved_at is before opened_at")
    caused_by = _text(row.get("caused_by"), "caused_by")
    release = _text(row.get("caused_by_release"), "caused_by_release")
    commit = None
    if caused_by:
        if _SHA.fullmatch(caused_by.lower()):
            commit = caused_by.lower()
        elif release is None and _RELEASE.fullmatch(caused_by):
            release = caused_by
        else:
            raise ValueError(f"caused_by {caused_by!r} is neither a commit sha nor a release id")
    if release is not None and not _RELEASE.fullmatch(release):
        raise ValueError(f"caused_by_release {release!r} is not a release id")
    return {
        "repo": repo,
        "id": _text(row.get("id"), "id", required=True),
        "service": _text(row.get("service"), "service"),
        "opened_at": opened,
        "resolved_at": resolved,
        "severity": severity,
        "caused_by": commit,
        "caused_by_release": release,
        "title": _text(row.get("title"), "title"),
    }


def _csv_rows(text: str) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [
        f for f in ("id", "repo", "opened_at", "severity") if f not in (reader.fieldnames or [])
    ]
    if missing:
        raise IncidentFileError(f"CSV header lacks the column(s) {', '.join(missing)}")
    line = reader.line_num + 1
    for row in reader:
        if None in row:
            yield line, ValueError("more values than header columns")
        else:
            yield line, row
        line = reader.line_num + 1


def _json_rows(text: str) -> Iterator[tuple[int, Any]]:
    """Each element of a JSON array (or each line of JSON Lines) with its starting line."""
    stripped = text.lstrip()
    decoder = json.JSONDecoder()
    if stripped.startswith("["):
        pos = text.index("[") + 1
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text):
                raise IncidentFileError("JSON array is not closed")
            if text[pos] == "]":
                return
            line = text.count("\n", 0, pos) + 1
            try:
                value, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise IncidentFileError(f"line {exc.lineno}: invalid JSON: {exc.msg}") from None
            yield line, value
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.strip():
            try:
                yield number, json.loads(raw)
            except json.JSONDecodeError as exc:
                yield number, ValueError(f"invalid JSON: {exc.msg}")


def read_incidents(path: Path) -> tuple[list[dict], list[dict], list[str]]:
    """(valid incidents, errors, ignored field names); an error has its ``line`` and text."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IncidentFileError(f"{path}: cannot be read: {exc.strerror}") from None
    if size > _MAX_BYTES:
        raise IncidentFileError(f"{path}: larger than {_MAX_BYTES >> 20} MiB")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise IncidentFileError(f"{path}: not UTF-8 text") from None
    first = text.lstrip()[:1]
    try:
        rows = list(_json_rows(text) if first in ("[", "{") else _csv_rows(text))
    except IncidentFileError as exc:
        raise IncidentFileError(f"{path}: {exc}") from None
    good, errors, seen, ignored = [], [], {}, set()
    for line, row in rows:
        try:
            if isinstance(row, Exception):
                raise row
            if not isinstance(row, Mapping):
                raise ValueError("expected an object with id, repo, opened_at and severity")
            ignored.update(str(k) for k in row if k not in FIELDS)
            incident = validate_row(row)
        except ValueError as exc:
            errors.append({"line": line, "error": str(exc)})
            continue
        key = (incident["repo"], incident["id"])
        if key in seen:
            errors.append({"line": line, "error": f"duplicate id {incident['id']!r} "
                                                  f"(first on line {seen[key]})"})  # fmt: skip
            continue
        seen[key] = line
        good.append(incident)
    return good, errors, sorted(ignored)


def store_incidents(store: HistoryStore, incidents: list[dict[str, Any]], *, source: str) -> int:
    """Insert or update incidents (keyed by repo and id); returns how many were written."""
    now = datetime.now(UTC)
    rows = [
        [i["repo"], i["id"], i["service"], i["opened_at"], i["resolved_at"], i["severity"],
         i["caused_by"], i["caused_by_release"], i["title"], source, now]
        for i in incidents
    ]  # fmt: skip
    if not rows:
        return 0
    with store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.executemany(
                "INSERT INTO incidents (repo, id, service, opened_at, resolved_at, severity,"
                " caused_by, caused_by_release, title, source, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (repo, id) DO UPDATE SET service = excluded.service,"
                " opened_at = excluded.opened_at, resolved_at = excluded.resolved_at,"
                " severity = excluded.severity, caused_by = excluded.caused_by,"
                " caused_by_release = excluded.caused_by_release, title = excluded.title,"
                " source = excluded.source, recorded_at = excluded.recorded_at",
                rows,
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return len(rows)


def import_incidents(store: HistoryStore, path: Path) -> dict[str, Any]:
    """Import a CSV, JSON array or JSON Lines file; bad rows are reported, good ones kept."""
    good, errors, ignored = read_incidents(path)
    written = store_incidents(store, good, source="import")
    return {
        "file": str(path),
        "imported": written,
        "rejected": len(errors),
        "errors": errors,
        "ignored_fields": ignored,
    }


def rollback_severity(verdict: Mapping[str, Any] | None) -> str:
    """A failed canary analysis is high; a rollback without a failing verdict is medium."""
    overall = (verdict or {}).get("overall")
    return "high" if overall == "fail" else "medium"


def record_rollback(
    store: HistoryStore,
    *,
    repo: str,
    release_id: str,
    commit: str,
    verdict: Mapping[str, Any] | None,
    reason: str,
    service: str | None,
    opened_at: datetime,
) -> dict[str, Any]:
    """The incident a rollback implies: caused by the release's commit, source 'rollback'."""
    incident = {
        "repo": validate_repo_name(repo),
        "id": f"incident-{release_id}",
        "service": service,
        "opened_at": opened_at,
        "resolved_at": None,
        "severity": rollback_severity(verdict),
        "caused_by": commit,
        "caused_by_release": release_id,
        "title": reason[:_MAX_TEXT],
    }
    store_incidents(store, [incident], source="rollback")
    return incident

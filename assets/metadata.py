"""How engine results are shown in the Dagster UI: tables and links to stored artifacts."""

import dagster as dg

# A column is a name (shown as text) or (name, type) with type string, int, float or bool,
# so the UI can sort numbers as numbers.
Column = str | tuple[str, str]
_CASTS = {"int": int, "float": float, "bool": bool, "string": str}


def table(rows: list[dict], columns: list[Column], *, limit: int | None = None) -> dg.MetadataValue:
    """A table of ``columns`` (missing values empty), at most ``limit`` rows."""
    typed = [(c, "string") if isinstance(c, str) else c for c in columns]
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in typed])
    records = [
        dg.TableRecord({name: _cell(row.get(name), kind) for name, kind in typed})
        for row in rows[:limit]
    ]
    return dg.MetadataValue.table(records=records, schema=schema)


def _cell(value, kind: str):
    if value is None:
        return "" if kind == "string" else None
    return _CASTS[kind](value)


def artifact_link(uri: str) -> dg.MetadataValue:
    """A local artifact as a path (clickable in the UI), an S3 one as its URL."""
    if uri.startswith("file:"):
        return dg.MetadataValue.path(uri.removeprefix("file://"))
    return dg.MetadataValue.url(uri)

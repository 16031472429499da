"""How engine results are shown in the Dagster UI: tables and links to stored artifacts."""

import dagster as dg


def table(rows: list[dict], columns: list[str]) -> dg.MetadataValue:
    """A string table of ``columns`` (missing values shown empty)."""
    schema = dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in columns])
    records = [
        dg.TableRecord({c: "" if row.get(c) is None else str(row.get(c)) for c in columns})
        for row in rows
    ]
    return dg.MetadataValue.table(records=records, schema=schema)


def artifact_link(uri: str) -> dg.MetadataValue:
    """A local artifact as a path (clickable in the UI), an S3 one as its URL."""
    if uri.startswith("file:"):
        return dg.MetadataValue.path(uri.removeprefix("file://"))
    return dg.MetadataValue.url(uri)

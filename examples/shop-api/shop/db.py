"""Database access: SQLAlchemy Core over DATABASE_URL (SQLite by default)."""

import os

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine

metadata = MetaData()

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("status", String(16), nullable=False, default="new"),
)


def make_engine(url=None):
    url = url or os.environ.get("DATABASE_URL", "sqlite:///shop.db")
    engine = create_engine(url, future=True)
    if url.startswith("sqlite"):
        metadata.create_all(engine)
    return engine

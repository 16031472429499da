"""Waivers: a named exception to one gate (or one finding of it), with a reason, a ticket and an
expiry, kept in the history store and written to the audit log.

A waiver is a debt with a due date, so it cannot be open-ended: one without a ticket or whose
expiry is not in the future is refused. Expired or revoked waivers stay in the store (the audit
trail needs them) and are reported as such, but they never apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from prodsprint_dagster.names import validate_repo_name
from prodsprint_dagster.policy.errors import PolicyError
from prodsprint_dagster.store.history import AuditEntry, HistoryStore


def _aware(value: datetime | None, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise PolicyError(f"waiver {what} must be a time-zone aware datetime")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Waiver:
    """An exception to ``gate`` for ``repo``; ``finding`` narrows it to one finding."""

    repo: str
    gate: str
    reason: str
    ticket: str
    owner: str
    expires_at: datetime
    finding: str | None = None
    id: str | None = None
    created_at: datetime | None = None
    revoked_at: datetime | None = None
    expired: bool = False

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def covers(self, repo: str | None, gate: str, finding: str | None) -> bool:
        return (
            self.repo == repo
            and self.gate == gate
            and (self.finding is None or self.finding == finding)
        )

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """JSON form; ``expired``/``revoked`` are judged at ``now`` when it is given."""
        doc = asdict(self)
        for key in ("expires_at", "created_at", "revoked_at"):
            doc[key] = doc[key].astimezone(UTC).isoformat() if doc[key] else None
        if now is not None:
            doc["expired"] = now >= self.expires_at
        doc["revoked"] = self.revoked_at is not None
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Waiver:
        """A waiver from its JSON form (e.g. run config or an evidence bundle)."""

        def when(key: str) -> datetime | None:
            value = doc.get(key)
            if value is None or isinstance(value, datetime):
                return value
            return datetime.fromisoformat(str(value))

        try:
            return cls(
                repo=str(doc["repo"]),
                gate=str(doc["gate"]),
                reason=str(doc.get("reason") or ""),
                ticket=str(doc.get("ticket") or ""),
                owner=str(doc.get("owner") or ""),
                expires_at=_aware(when("expires_at"), "expires_at"),
                finding=doc.get("finding"),
                id=doc.get("id"),
                created_at=_aware(when("created_at"), "created_at"),
                revoked_at=_aware(when("revoked_at"), "revoked_at"),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise PolicyError(f"waiver {doc.get('id') or ''} is malformed: {exc}") from None


_COLUMNS = "id, repo, gate, finding, reason, ticket, owner, created_at, expires_at, revoked_at"


def _row(row: tuple[Any, ...], now: datetime) -> Waiver:
    wid, repo, gate, finding, reason, ticket, owner, created, expires, revoked = row
    waiver = Waiver(
        repo=repo,
        gate=gate,
        reason=reason,
        ticket=ticket,
        owner=owner,
        expires_at=expires.astimezone(UTC),
        finding=finding,
        id=wid,
        created_at=created.astimezone(UTC),
        revoked_at=revoked.astimezone(UTC) if revoked else None,
    )
    return replace(waiver, expired=now >= waiver.expires_at)


class WaiverStore:
    """Waivers in the history store; every change is an audit-log row."""

    def __init__(self, history: HistoryStore):
        self.history = history

    def add(self, waiver: Waiver, *, now: datetime | None = None) -> Waiver:
        """Store a new waiver and return it with its id; refuses incomplete or stale ones."""
        from prodsprint_dagster.policy.gates import GATES

        now = now or datetime.now(UTC)
        validate_repo_name(waiver.repo)
        if waiver.gate not in GATES:
            raise PolicyError(f"waiver gate {waiver.gate!r} is not one of {', '.join(GATES)}")
        for key in ("reason", "ticket", "owner"):
            if not str(getattr(waiver, key) or "").strip():
                raise PolicyError(f"a waiver needs a {key}")
        expires = _aware(waiver.expires_at, "expiry")
        if expires is None or expires <= now:
            raise PolicyError("a waiver needs an expiry in the future")
        with self.history.connect() as con:
            seq = con.execute("SELECT nextval('waivers_id_seq')").fetchone()[0]
            stored = replace(
                waiver, id=f"wv-{seq}", created_at=now, expires_at=expires, revoked_at=None
            )
            con.execute(
                f"INSERT INTO waivers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                [
                    stored.id, stored.repo, stored.gate, stored.finding, stored.reason,
                    stored.ticket, stored.owner, stored.created_at, stored.expires_at, None,
                ],
            )  # fmt: skip
        self.history.append_audit(
            AuditEntry(
                action="waiver.add",
                actor=stored.owner,
                repo=stored.repo,
                reason=stored.reason,
                refs={
                    "waiver_id": stored.id,
                    "gate": stored.gate,
                    "finding": stored.finding,
                    "ticket": stored.ticket,
                    "expires_at": stored.expires_at.isoformat(),
                },
                at=now,
            )
        )
        return stored

    def revoke(
        self, waiver_id: str, *, actor: str, reason: str, now: datetime | None = None
    ) -> Waiver:
        """Revoke a waiver early (it stays in the store, marked revoked)."""
        now = now or datetime.now(UTC)
        waiver = self.get(waiver_id, now=now)
        if waiver.revoked_at is not None:
            return waiver
        with self.history.connect() as con:
            con.execute("UPDATE waivers SET revoked_at = ? WHERE id = ?", [now, waiver_id])
        self.history.append_audit(
            AuditEntry(
                action="waiver.revoke",
                actor=actor,
                repo=waiver.repo,
                reason=reason,
                refs={"waiver_id": waiver_id, "gate": waiver.gate, "finding": waiver.finding},
                at=now,
            )
        )
        return replace(waiver, revoked_at=now)

    def get(self, waiver_id: str, *, now: datetime | None = None) -> Waiver:
        now = now or datetime.now(UTC)
        rows = self._select("WHERE id = ?", [waiver_id], now)
        if not rows:
            raise PolicyError(f"no waiver {waiver_id!r}")
        return rows[0]

    def active(self, repo: str, now: datetime) -> list[Waiver]:
        """Waivers of ``repo`` that apply at ``now`` (not expired, not revoked)."""
        return [
            w
            for w in self._select("WHERE repo = ? AND revoked_at IS NULL", [repo], now)
            if w.is_active(now)
        ]

    def all(self, repo: str | None = None, *, now: datetime | None = None) -> list[Waiver]:
        """Every stored waiver (of ``repo``), with ``expired`` judged at ``now``."""
        now = now or datetime.now(UTC)
        if repo is None:
            return self._select("", [], now)
        return self._select("WHERE repo = ?", [repo], now)

    def _select(self, where: str, params: list[Any], now: datetime) -> list[Waiver]:
        if not self.history.path.exists():
            return []
        if not self.history._migrated:  # a store made before the waivers migration
            self.history.migrate()
        with self.history.connect(read_only=True) as con:
            rows = con.execute(
                f"SELECT {_COLUMNS} FROM waivers {where} ORDER BY created_at, id",  # noqa: S608
                params,
            ).fetchall()
        return [_row(row, now) for row in rows]


def covering_waiver(
    waivers: Iterable[Waiver], repo: str | None, gate: str, finding: str | None, now: datetime
) -> tuple[Waiver | None, Waiver | None]:
    """(an active waiver covering the finding, else an expired/revoked one that would have)."""
    stale = None
    for waiver in waivers:
        if waiver.covers(repo, gate, finding):
            if waiver.is_active(now):
                return waiver, None
            stale = stale or waiver
    return None, stale

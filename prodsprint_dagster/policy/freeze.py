"""Freeze windows: when a pack forbids releases, in the time zone the people who set it live in.

Three forms, each with an IANA ``timezone`` (required: "Friday 16:00" means nothing without
one):

- ``recurring: "Fri 16:00 - Mon 08:00"``: a weekly span, which may wrap over the week's end;
- ``cron: "0 22 * * *"`` with ``duration: "8h"``: active for ``duration`` after each time the
  five-field cron expression fires (minute hour day-of-month month day-of-week; ``*``, lists,
  ranges, steps and month/day names; day-of-month and day-of-week OR-ed when both are set, as
  in Vixie cron);
- ``start`` / ``end``: a date range (dates or local date-times, end exclusive).

Times are wall-clock times in the window's zone, so a window keeps its local hours across
daylight-saving changes. No cron library is needed for this much; the matcher is below.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prodsprint_dagster.policy.errors import PolicyError

if TYPE_CHECKING:
    from prodsprint_dagster.policy.pack import PolicyPack

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RECURRING = re.compile(
    r"^\s*([A-Za-z]{3})[a-z]*\s+(\d{1,2}):(\d{2})\s*-\s*([A-Za-z]{3})[a-z]*\s+(\d{1,2}):(\d{2})\s*$"
)
_DURATION = re.compile(r"^(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?$")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CRON_DOW = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_WEEK = 7 * 86400


def _zone(name: Any, where: str) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise PolicyError(f"{where}: `timezone` is required (an IANA name like Europe/Berlin)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(f"{where}: unknown time zone {name!r}") from None


def _duration(value: Any, where: str) -> timedelta:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return timedelta(minutes=value)
    match = _DURATION.match(str(value).strip()) if isinstance(value, str) else None
    if not match or not any(match.groups()):
        raise PolicyError(f"{where}: duration {value!r} is not like '2h', '1d12h' or '90m'")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    span = timedelta(days=days, hours=hours, minutes=minutes)
    if span <= timedelta(0):
        raise PolicyError(f"{where}: duration must be positive")
    return span


def _cron_field(text: str, low: int, high: int, names: tuple[str, ...], where: str) -> set[int]:
    values: set[int] = set()

    def number(token: str) -> int:
        lowered = token.lower()
        if lowered in names:
            return names.index(lowered) + (low if names is _MONTHS else 0)
        if not token.isdigit():
            raise PolicyError(f"{where}: cron field {text!r}: {token!r} is not a number")
        return int(token)

    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) < 1:
                raise PolicyError(f"{where}: cron field {text!r}: bad step {step_text!r}")
            step = int(step_text)
        if part == "*":
            first, last = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            first, last = number(a), number(b)
        else:
            first = number(part)
            last = high if step > 1 else first
        if first < low or last > high or first > last:
            raise PolicyError(f"{where}: cron field {text!r} is out of range {low}-{high}")
        values.update(range(first, last + 1, step))
    return values


class _Cron:
    """A parsed five-field cron expression (wall-clock, no seconds)."""

    def __init__(self, expr: str, where: str):
        fields = expr.split() if isinstance(expr, str) else []
        if len(fields) != 5:
            raise PolicyError(f"{where}: cron {expr!r} must have five fields")
        self.minutes = sorted(_cron_field(fields[0], 0, 59, (), where), reverse=True)
        self.hours = sorted(_cron_field(fields[1], 0, 23, (), where), reverse=True)
        self.dom = _cron_field(fields[2], 1, 31, (), where)
        self.months = _cron_field(fields[3], 1, 12, _MONTHS, where)
        dow = _cron_field(fields[4], 0, 7, _CRON_DOW, where)
        self.dow = {d % 7 for d in dow}
        self.dom_any = fields[2] == "*"
        self.dow_any = fields[4] == "*"

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom_ok = day.day in self.dom
        dow_ok = (day.weekday() + 1) % 7 in self.dow
        if self.dom_any or self.dow_any:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def last_fire(self, local: datetime, horizon: timedelta) -> datetime | None:
        """The latest firing at or before ``local`` (naive wall time) within ``horizon``."""
        earliest = local - horizon - timedelta(days=1)
        day = local.date()
        while day >= earliest.date():
            if self.day_matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        fire = datetime(day.year, day.month, day.day, hour, minute)
                        if fire <= local:
                            return fire if fire >= earliest else None
            day -= timedelta(days=1)
        return None


def _local_datetime(value: Any, tz: ZoneInfo, where: str) -> datetime:
    """A naive wall-clock time in ``tz`` from a YAML date, datetime or ISO string."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise PolicyError(f"{where}: {value!r} is not an ISO date or date-time") from None
    else:
        raise PolicyError(f"{where}: expected a date or date-time, got {value!r}")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(tz).replace(tzinfo=None)
    return parsed


def validate_windows(windows: Any, where: str) -> list[dict[str, Any]]:
    """Parse the pack's ``freeze_windows``; a bad window is a PolicyError naming it."""
    if windows is None:
        return []
    if not isinstance(windows, list):
        raise PolicyError(f"{where}: freeze_windows must be a list")
    parsed: list[dict[str, Any]] = []
    for i, raw in enumerate(windows):
        if not isinstance(raw, dict):
            raise PolicyError(f"{where}: freeze_windows[{i}] must be a mapping")
        name = str(raw.get("name") or f"window-{i + 1}")
        at = f"{where}: freeze window {name!r}"
        tz = _zone(raw.get("timezone"), at)
        window: dict[str, Any] = {"name": name, "timezone": tz.key, "tz": tz}
        if "recurring" in raw:
            match = _RECURRING.match(str(raw["recurring"]))
            if not match:
                raise PolicyError(f"{at}: recurring must look like 'Fri 16:00 - Mon 08:00'")
            d1, h1, m1, d2, h2, m2 = match.groups()
            if d1.lower() not in _DAYS or d2.lower() not in _DAYS:
                raise PolicyError(f"{at}: unknown day in {raw['recurring']!r}")
            if int(h1) > 23 or int(h2) > 23 or int(m1) > 59 or int(m2) > 59:
                raise PolicyError(f"{at}: bad time in {raw['recurring']!r}")
            start = _DAYS.index(d1.lower()) * 86400 + int(h1) * 3600 + int(m1) * 60
            end = _DAYS.index(d2.lower()) * 86400 + int(h2) * 3600 + int(m2) * 60
            if start == end:
                raise PolicyError(f"{at}: recurring window starts and ends at the same time")
            window.update(kind="recurring", spec=str(raw["recurring"]), start=start, end=end)
        elif "cron" in raw:
            window.update(
                kind="cron",
                spec=f"{raw['cron']} for {raw.get('duration')}",
                cron=_Cron(raw["cron"], at),
                duration=_duration(raw.get("duration"), at),
            )
        elif "start" in raw and "end" in raw:
            start_dt = _local_datetime(raw["start"], tz, f"{at}: start")
            end_dt = _local_datetime(raw["end"], tz, f"{at}: end")
            if end_dt <= start_dt:
                raise PolicyError(f"{at}: end must be after start")
            window.update(
                kind="range",
                spec=f"{start_dt.isoformat()} - {end_dt.isoformat()}",
                start=start_dt,
                end=end_dt,
            )
        else:
            raise PolicyError(f"{at}: needs `recurring`, `cron` + `duration`, or `start` + `end`")
        if raw.get("reason"):
            window["reason"] = str(raw["reason"])
        parsed.append(window)
    return parsed


def _span(window: dict[str, Any], local: datetime) -> tuple[datetime, datetime] | None:
    kind = window["kind"]
    if kind == "range":
        return (
            (window["start"], window["end"]) if window["start"] <= local < window["end"] else None
        )
    if kind == "cron":
        fire = window["cron"].last_fire(local, window["duration"])
        if fire is not None and local < fire + window["duration"]:
            return fire, fire + window["duration"]
        return None
    second = local.weekday() * 86400 + local.hour * 3600 + local.minute * 60 + local.second
    start, end = window["start"], window["end"]
    inside = start <= second < end if start < end else (second >= start or second < end)
    if not inside:
        return None
    began = local.replace(microsecond=0) - timedelta(seconds=(second - start) % _WEEK)
    return began, began + timedelta(seconds=(end - start) % _WEEK)


def freeze_status(pack: PolicyPack, now: datetime) -> dict[str, Any] | None:
    """The first active freeze window of the pack at ``now`` (time-zone aware), or None."""
    if now.tzinfo is None:
        raise PolicyError("freeze_status needs a time-zone aware `now`")
    for window in pack.freeze_windows:
        tz = window["tz"]
        local = now.astimezone(tz).replace(tzinfo=None)
        span = _span(window, local)
        if span is None:
            continue
        status = {
            "name": window["name"],
            "kind": window["kind"],
            "spec": window["spec"],
            "timezone": window["timezone"],
            "started_at": span[0].replace(tzinfo=tz).isoformat(),
            "ends_at": span[1].replace(tzinfo=tz).isoformat(),
        }
        if "reason" in window:
            status["reason"] = window["reason"]
        return status
    return None

"""Freeze windows in their own time zones, and the rollout plan per risk band."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from prodsprint_dagster.policy import PolicyError, freeze_status, load_pack, rollout_plan_for


def _pack(tmp_path, windows, name="fw"):
    directory = tmp_path / name
    directory.mkdir()
    (directory / "pack.yaml").write_text(
        yaml.safe_dump({"name": name, "version": "1", "description": "d", "extends": "default",
                        "settings": {"freeze_windows": windows}})
    )  # fmt: skip
    return load_pack(str(directory))


def test_same_instant_inside_berlin_window_outside_new_york(tmp_path):
    # Friday 15:30 UTC = 17:30 in Berlin (inside Fri 16:00 -), 11:30 in New York (outside).
    instant = datetime(2025, 6, 6, 15, 30, tzinfo=UTC)
    spec = "Fri 16:00 - Mon 08:00"
    berlin = _pack(tmp_path, [{"name": "w", "recurring": spec, "timezone": "Europe/Berlin"}], "b")
    new_york = _pack(
        tmp_path, [{"name": "w", "recurring": spec, "timezone": "America/New_York"}], "ny"
    )
    status = freeze_status(berlin, instant)
    assert status is not None and status["timezone"] == "Europe/Berlin"
    assert status["started_at"] == "2025-06-06T16:00:00+02:00"
    assert status["ends_at"] == "2025-06-09T08:00:00+02:00"
    assert freeze_status(new_york, instant) is None
    # Monday 10:00 UTC = 06:00 in New York: still frozen there, thawed in Berlin (12:00).
    monday = datetime(2025, 6, 9, 10, 0, tzinfo=UTC)
    assert freeze_status(new_york, monday)["ends_at"] == "2025-06-09T08:00:00-04:00"
    assert freeze_status(berlin, monday) is None


def test_cron_with_duration_and_date_range(tmp_path):
    pack = _pack(
        tmp_path,
        [
            {"name": "nightly", "cron": "0 22 * * mon-fri", "duration": "8h",
             "timezone": "America/New_York"},
            {"name": "year-end", "start": "2025-12-20", "end": "2026-01-05",
             "timezone": "Europe/Berlin"},
        ],
    )  # fmt: skip
    # Tue 03:00 UTC = Mon 23:00 EDT: inside Monday's 22:00 + 8h.
    assert freeze_status(pack, datetime(2025, 6, 10, 3, 0, tzinfo=UTC))["name"] == "nightly"
    # Wed 12:00 UTC = 08:00 EDT: Tuesday's window ended at 06:00.
    assert freeze_status(pack, datetime(2025, 6, 11, 12, 0, tzinfo=UTC)) is None
    # Sunday 03:00 UTC = Sat 23:00 EDT: the cron does not fire on Saturday.
    assert freeze_status(pack, datetime(2025, 6, 8, 3, 0, tzinfo=UTC)) is None
    # 2025-12-19 23:30 UTC is already 2025-12-20 00:30 in Berlin.
    assert freeze_status(pack, datetime(2025, 12, 19, 23, 30, tzinfo=UTC))["name"] == "year-end"
    assert freeze_status(pack, datetime(2025, 12, 19, 22, 30, tzinfo=UTC)) is None


def test_freeze_status_needs_an_aware_clock():
    with pytest.raises(PolicyError, match="aware"):
        freeze_status(load_pack("default"), datetime(2025, 6, 6, 12, 0))


@pytest.mark.parametrize(
    "window",
    [
        {"name": "w", "recurring": "Fri 16:00 - Mon 08:00"},
        {"name": "w", "recurring": "Caturday 16:00 - Mon 08:00", "timezone": "UTC"},
        {"name": "w", "cron": "61 * * * *", "duration": "1h", "timezone": "UTC"},
        {"name": "w", "cron": "0 22 * * *", "duration": "soon", "timezone": "UTC"},
        {"name": "w", "start": "2026-01-05", "end": "2025-12-20", "timezone": "UTC"},
    ],
)
def test_bad_windows_are_refused_at_load(tmp_path, window):
    with pytest.raises(PolicyError, match="freeze window 'w'"):
        _pack(tmp_path, [window])


def test_rollout_plan_per_band():
    pack = load_pack("default")
    low, medium, high = (rollout_plan_for(b, pack) for b in ("low", "medium", "high"))
    assert [s["weight"] for s in low["steps"]] == [5, 25, 100]
    assert [s["weight"] for s in medium["steps"]] == [1, 5, 25, 100]
    assert [s["weight"] for s in high["steps"]] == [1, 5, 10, 25, 50, 100]
    assert [s["weight"] for s in high["steps"] if s["manual"]] == [25]
    assert max(s["pause_seconds"] for s in high["steps"]) > max(
        s["pause_seconds"] for s in low["steps"]
    )
    assert rollout_plan_for(None, pack) == medium
    assert set(medium) == {"strategy", "band", "steps", "analysis"}
    assert set(medium["analysis"]) == {"interval_seconds", "min_samples"}
    assert all(set(s) == {"weight", "pause_seconds", "analysis", "manual"} for s in high["steps"])
    with pytest.raises(PolicyError, match="risk band"):
        rollout_plan_for("extreme", pack)


def _rollout_pack(tmp_path, low_band):
    directory = tmp_path / "bg"
    directory.mkdir()
    bands = dict(load_pack("default").settings["rollout"]["bands"], low=low_band)
    rollout = {**load_pack("default").settings["rollout"], "bands": bands}
    (directory / "pack.yaml").write_text(
        yaml.safe_dump({"name": "bg", "version": "1", "description": "d", "extends": "default",
                        "settings": {"rollout": rollout}})
    )  # fmt: skip
    return load_pack(str(directory))


def test_bluegreen_band_is_preview_analysis_then_switch(tmp_path):
    band = {"strategy": "bluegreen", "steps": [
        {"weight": 0, "pause_seconds": 300, "analysis": True},
        {"weight": 100, "pause_seconds": 600, "analysis": True}]}  # fmt: skip
    plan = rollout_plan_for("low", _rollout_pack(tmp_path, band))
    assert plan["strategy"] == "bluegreen"
    assert [(s["weight"], s["analysis"]) for s in plan["steps"]] == [(0, True), (100, True)]


@pytest.mark.parametrize(
    "steps",
    [
        [{"weight": 50, "analysis": True}, {"weight": 100}],
        [{"weight": 0}, {"weight": 100}],
        [{"weight": 0, "analysis": True}, {"weight": 50}, {"weight": 100}],
    ],
)
def test_bluegreen_band_with_other_steps_is_refused(tmp_path, steps):
    with pytest.raises(PolicyError, match="bluegreen rollout has two steps"):
        _rollout_pack(tmp_path, {"strategy": "bluegreen", "steps": steps})

"""Sensors: react to new commits (and, later, to release steps and run failures)."""

from sensors.new_commit import new_commit_sensor

ALL_SENSORS = [new_commit_sensor]

__all__ = ["ALL_SENSORS", "new_commit_sensor"]

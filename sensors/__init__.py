"""Sensors: react to new commits (and, later, to release steps and run failures)."""

from sensors.new_commit import new_commit_sensor
from sensors.release import release_failure_sensor, release_sensor

ALL_SENSORS = [new_commit_sensor, release_sensor, release_failure_sensor]

__all__ = ["ALL_SENSORS", "new_commit_sensor", "release_failure_sensor", "release_sensor"]

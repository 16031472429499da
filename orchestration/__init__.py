"""Drives the code location in-process for the CLI: sensor ticks, runs, instance queries.

It sits beside assets/ and sensors/ (outside the engine) because it imports Dagster; the CLI
imports it lazily, only for the commands that need a Dagster instance (`demo`, `status`).
"""

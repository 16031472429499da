"""The `prodsprint` group and what every command shares.

Every command takes ``--json`` and then prints exactly one JSON document on stdout; progress
and logs go to stderr, so ``prodsprint ... --json | jq`` always works. Errors the user can act
on exit 1 with the message (and ``{"ok": false, "error": ...}`` under --json); usage errors
exit 2 as click decides.
"""

from __future__ import annotations

import functools
import getpass
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from prodsprint_dagster import __version__
from prodsprint_dagster.config import config_path, load_config
from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.store import AuditEntry, HistoryStore

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class Ctx:
    def __init__(self, config: Path):
        self.config_file = config

    def config(self):
        return load_config(self.config_file)

    def history(self) -> HistoryStore:
        cfg = self.config()
        return HistoryStore(cfg.history_path, lock_timeout=cfg.stores.history.lock_timeout_seconds)

    def audit(self, action: str, repo: str | None = None, **refs: Any) -> None:
        self.history().append_audit(
            AuditEntry(action=action, actor=actor(), repo=repo, refs=refs or None)
        )


def command(group: click.Group, name: str | None = None):
    """A subcommand with --json and uniform error handling."""

    def wrap(fn):
        @group.command(name)
        @click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
        @click.pass_obj
        @functools.wraps(fn)
        def run(ctx: Ctx, as_json: bool, **kwargs):
            code = 0
            try:
                returned = fn(ctx, **kwargs)
                if isinstance(returned[1], int):
                    (result, human), code = returned
                else:
                    result, human = returned
            except ProdSprintError as exc:
                if as_json:
                    click.echo(json.dumps({"ok": False, "error": str(exc)}))
                err.print(f"[red]error:[/red] {exc}", markup=True, soft_wrap=True)
                sys.exit(1)
            if as_json:
                click.echo(json.dumps(result, indent=2, sort_keys=True, default=str))
            else:
                human()
            if code:
                sys.exit(code)

        return run

    return wrap


@click.group()
@click.version_option(__version__, prog_name="prodsprint")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="prodsprint.yaml to use (default: $PRODSPRINT_CONFIG, else ./prodsprint.yaml).",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """ProdSprint: import, plan and release service repositories behind policy gates."""
    ctx.obj = Ctx((config or config_path()).absolute())


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"

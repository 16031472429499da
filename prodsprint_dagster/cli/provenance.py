"""`prodsprint verify`: check a provenance envelope's signature and every subject it names.

Exit 0 only when the signature verifies with the key and every subject's sha256 matches;
any mismatch exits 1 naming the file or key at fault (the `command` convention).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from prodsprint_dagster.cli.base import Ctx, command, main, out
from prodsprint_dagster.errors import ProdSprintError


@command(main, "verify")
@click.argument("artifact", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Public key (PEM) to verify with (default: the home's).",
)
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder the subject names are relative to (default: the commit's artifact "
                   "folder that holds ARTIFACT).")  # fmt: skip
def verify_cmd(ctx: Ctx, artifact: Path, key_file: Path | None, root: Path | None):
    """Verify a DSSE provenance envelope (plan/<target>/ or release/<id>/provenance.intoto.json)."""
    from prodsprint_dagster.provenance import (
        directory_reader,
        load_public_key,
        public_key_path,
        statement_summary,
        verify_dsse,
        verify_envelope,
    )
    from prodsprint_dagster.provenance.statement import git_commit_of, parse_statement

    try:
        data = artifact.read_bytes()
    except OSError as exc:
        raise ProdSprintError(f"{artifact}: cannot read: {exc.strerror}") from None
    key_path = key_file or public_key_path(ctx.config().home_path)
    public_key = load_public_key(key_path)
    if root is None:  # subject names are relative to <artifacts>/<repo>/<sha>/
        signed = parse_statement(verify_dsse(data, public_key, source=str(artifact)))
        root = commit_folder(artifact, git_commit_of(signed) or "")
    statement = verify_envelope(
        data, public_key, read_subject=directory_reader(root), source=str(artifact)
    )
    summary = {"ok": True, "envelope": str(artifact), "key": str(key_path), "root": str(root),
               **statement_summary(statement)}  # fmt: skip

    def human():
        params = summary["parameters"] or {}
        out.print(
            f"[green]verified[/green] {escape(str(artifact))} with {escape(str(key_path))}",
            soft_wrap=True,
        )
        out.print(f"{summary['buildType']}: {escape(str(params.get('repo')))}@"
                  f"{escape(str(params.get('commit', ''))[:12])}, "
                  f"{len(summary['subjects'])} subject(s) match", soft_wrap=True)  # fmt: skip
        for dep in summary["inputs"]:
            out.print(f"  input {escape(str(dep['name']))}")

    return summary, human


def commit_folder(envelope: Path, commit: str) -> Path:
    """The ancestor of ``envelope`` named after the commit (``<artifacts>/<repo>/<sha>``)."""
    for parent in envelope.resolve().parents:
        if commit and parent.name == commit:
            return parent
    raise ProdSprintError(
        f"{envelope}: not inside the artifact folder of commit {commit[:12] or '?'}; "
        "pass --root FOLDER"
    )

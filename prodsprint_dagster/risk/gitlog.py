"""One streamed pass of ``git log -z --numstat``: commits, authors and per-file line counts.

Why this shape: a single ``git log`` process computes every diff once, in C, and ``-z`` makes
the stream unambiguous for any byte a path or an author name may contain (tabs, newlines,
quotes, invalid UTF-8), so nothing is ever quoted, unquoted or guessed. Output is read in
chunks and parsed as it arrives, so memory stays flat however long the history is.

Repositories are untrusted: git runs from an argument list (never a shell), with hooks, the
fsmonitor, external diff drivers and textconv filters disabled, because a repository's own
config could otherwise make ``git log`` run a program.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from prodsprint_dagster.errors import GitError
from prodsprint_dagster.git import git_env

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None

# Config that could run a program on the repository owner's behalf is switched off (external
# diff drivers and textconv by the commands' own flags); no transport may run either, so a
# partial clone fails clearly instead of fetching its missing objects mid-pass.
HARDENING = (
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "protocol.allow=never",
)  # fmt: skip
_RS = 0x1E  # starts every commit header in the stream
_FORMAT = "%x1e%H%x00%P%x00%an%x00%ae%x00%at%x00%ct%x00%B"
_HEX = re.compile(rb"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_CHUNK = 1 << 20
_PIPE_BYTES = 1 << 20


class FileChange(NamedTuple):
    """One file of a commit as numstat reports it; ``old_path`` is set for renames."""

    path: str
    old_path: str | None
    added: int
    deleted: int
    binary: bool


@dataclass(frozen=True, slots=True)
class RawCommit:
    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    authored_at: int  # unix seconds
    committed_at: int
    message: str
    files: tuple[FileChange, ...]

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


def run_git(repo: Path, args: list[str], *, what: str, ok_codes=(0,), timeout=120.0) -> bytes:
    """A short git command in ``repo``; stdout as bytes, or GitError naming what failed."""
    try:
        proc = subprocess.run(
            ["git", *HARDENING, *args], cwd=repo, env=git_env(), capture_output=True,
            timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise GitError(f"{repo}: git timed out after {timeout:.0f}s trying to {what}") from None
    except FileNotFoundError:
        raise GitError(f"{repo}: cannot run git to {what} (is the path a directory?)") from None
    if proc.returncode not in ok_codes:
        last = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"{repo}: git failed to {what}: {last[-1] if last else 'no output'}")
    return proc.stdout


def check_repository(repo: Path) -> bool:
    """True when ``repo`` has commits, False when it is empty; GitError when unusable.

    A shallow clone is refused: its oldest commits look like new files and every feature
    that counts history (LT, NUC, NDEV, AGE, EXP) would be silently wrong.
    """
    repo = Path(repo)
    if not repo.is_dir():
        raise GitError(f"{repo}: not a directory")
    run_git(repo, ["rev-parse", "--git-dir"], what="open the repository (is it a git repository?)")
    shallow = run_git(repo, ["rev-parse", "--is-shallow-repository"], what="check for shallow")
    if shallow.strip() == b"true":
        raise GitError(
            f"{repo}: shallow clone; its history is cut off, so churn features would be wrong. "
            "Run `git fetch --unshallow` in it (or clone without --depth) and mine again"
        )
    head = run_git(
        repo, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], what="read HEAD",
        ok_codes=(0, 1, 128),
    )  # fmt: skip
    return bool(head.strip())


def resolve(repo: Path, rev: str) -> str | None:
    """The full sha of ``rev`` when it names a commit in ``repo``, else None."""
    if rev.startswith("-"):
        raise GitError(f"{repo}: revision {rev!r} starts with '-'")
    out = run_git(
        repo, ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
        what=f"resolve {rev!r}", ok_codes=(0, 1, 128),
    )  # fmt: skip
    sha = out.strip()
    return sha.decode() if _HEX.fullmatch(sha) else None


def log_command(rev: str, exclude: Iterable[str] = ()) -> list[str]:
    """The git arguments of the mining pass (shared with the benchmark's raw pass)."""
    excluded = [f"^{sha}" for sha in exclude]
    return [
        "git", *HARDENING, "log", "-z", "--reverse", "--topo-order", "--numstat", "-M",
        "--no-color", "--no-ext-diff", "--no-textconv", "--no-show-signature",
        f"--format={_FORMAT}", "--end-of-options", rev, *excluded, "--",
    ]  # fmt: skip


def iter_commits(repo: Path, rev: str = "HEAD", exclude: Iterable[str] = ()) -> Iterator[RawCommit]:
    """Commits reachable from ``rev`` but not from ``exclude``, parents before children.

    Topological order, reversed: a side branch's commits come right before the merge that
    brings them in, after the main-line commits made meanwhile. That is the order in which
    the main line learns about them, so mining at successive heads applies commits in the
    same order as one full pass, and a main-line commit's features never include branch
    work that was not merged yet.
    """
    with tempfile.TemporaryFile() as errors:  # a file, so a chatty git can never block
        proc = subprocess.Popen(
            log_command(rev, exclude), cwd=repo, env=git_env(), stdout=subprocess.PIPE,
            stderr=errors,
        )  # fmt: skip
        _widen_pipe(proc.stdout)
        finished = False
        try:
            yield from parse_stream(_tokens(proc.stdout))
            finished = True
        finally:
            if not finished:
                proc.kill()  # the caller stopped early (or parsing failed)
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            errors.seek(0)
            last = errors.read().decode("utf-8", "replace").strip().splitlines()
            raise GitError(f"{repo}: git log failed: {last[-1] if last else 'no output'}")


def _widen_pipe(stream) -> None:
    """Let git run up to 1 MiB ahead of the parser (Linux), so both work at the same time."""
    size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl else None
    if size is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(stream.fileno(), size, _PIPE_BYTES)


def _tokens(stream) -> Iterator[bytes]:
    """NUL-separated tokens of a byte stream, taking whatever has arrived at each read."""
    tail = b""
    while chunk := stream.read1(_CHUNK):
        parts = (tail + chunk).split(b"\0")
        tail = parts.pop()
        yield from parts
    if tail:
        yield tail


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def parse_stream(tokens: Iterator[bytes]) -> Iterator[RawCommit]:
    """Parse the ``-z`` stream of :func:`log_command` into commits.

    Layout per commit: ``\\x1e<sha>``, parents, author name, author email, author time,
    commit time, message, then numstat entries ``added\\tdeleted\\tpath`` (the first one
    preceded by a newline); a rename is ``added\\tdeleted\\t`` followed by two path tokens.
    Paths are read positionally, so a path may contain any byte.
    """
    tokens = iter(tokens)
    token = next(tokens, None)
    while token is not None:
        if not token or token[0] != _RS or not _HEX.fullmatch(token[1:]):
            raise GitError(f"unexpected git log output near {token[:60]!r}")
        sha = token[1:].decode()
        parents, name, email, authored, committed, message = (next(tokens, b"") for _ in range(6))
        files: list[FileChange] = []
        token = next(tokens, None)
        first = True
        while token is not None and not (token[:1] == b"\x1e" and _HEX.fullmatch(token[1:])):
            if first and token.startswith(b"\n"):
                token = token[1:]
            first = False
            if token:
                files.append(_file(token, tokens))
            token = next(tokens, None)
        yield RawCommit(
            sha=sha,
            parents=tuple(p.decode() for p in parents.split()),
            author_name=_text(name),
            author_email=_text(email),
            authored_at=int(authored or 0),
            committed_at=int(committed or 0),
            message=_text(message).strip(),
            files=tuple(files),
        )


def _file(token: bytes, tokens: Iterator[bytes]) -> FileChange:
    added, deleted, path = token.split(b"\t", 2)
    old = None
    if not path:  # a rename: the old and the new path follow as tokens of their own
        old = _text(next(tokens, b""))
        path = next(tokens, b"")
    if added == b"-":
        return FileChange(_text(path), old, 0, 0, True)
    return FileChange(_text(path), old, int(added), int(deleted), False)

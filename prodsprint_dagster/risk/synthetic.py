"""A realistic synthetic history, written with ``git fast-import`` (thousands of commits/s).

For the mining benchmark and the repository evaluation tests: multi-file commits by a
dozen authors (and a dependency bot), renames, deletions, binary files, side branches
merged back, and defects: a change sometimes introduces a line that a later "Fix ..."
commit repairs, so SZZ has something true to find. Deterministic for a seed.
"""

from __future__ import annotations

import math
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from prodsprint_dagster.errors import GitError
from prodsprint_dagster.git import git_env

_AUTHORS = [(f"Dev {chr(65 + i)}", f"dev{i}@example.test") for i in range(12)]
_BOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
_DIRS = ["api", "core", "db", "web", "jobs", "lib/util", "lib/net", "docs"]


@dataclass
class _Tree:
    files: dict[str, list[str]] = field(default_factory=dict)
    binaries: dict[str, bytes] = field(default_factory=dict)


@dataclass
class SyntheticHistory:
    path: Path
    commits: int
    merges: int
    fixes: int
    defects: int


def _data(payload: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(payload), payload)


class _Writer:
    def __init__(self, seed: int, start: int, spacing: float):
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
        self.now = start
        self.spacing = spacing
        self.mark = 0
        self.counter = 0
        self.out: list[bytes] = []
        self.pending: list[tuple[int, str, str]] = []  # (due index, path, line)
        self.experience: dict[int, int] = {}

    def line(self, path: str) -> str:
        self.counter += 1
        return f"{path.rsplit('/', 1)[-1].split('.')[0]}_{self.counter} = compute({self.counter})"

    def commit(self, ref: str, author: tuple[str, str], message: str, ops: list[bytes],
               parent: int | None, merge: int | None = None) -> int:  # fmt: skip
        self.mark += 1
        self.now += int(self.rng.expovariate(1 / self.spacing)) + 60
        who = f"{author[0]} <{author[1]}> {self.now} +0000".encode()
        head = [b"commit " + ref.encode(), b"mark :%d" % self.mark, b"author " + who,
                b"committer " + who]  # fmt: skip
        self.out.append(b"\n".join(head) + b"\n" + _data(message.encode()))
        if parent:
            self.out.append(b"from :%d\n" % parent)
        if merge:
            self.out.append(b"merge :%d\n" % merge)
        self.out.extend(ops)
        self.out.append(b"\n")
        return self.mark


def _put(path: str, text_lines: list[str]) -> bytes:
    return (
        b"M 100644 inline " + path.encode() + b"\n" + _data("\n".join(text_lines).encode() + b"\n")
    )


def _edit(w: _Writer, tree: _Tree, path: str, risky: bool) -> tuple[bytes, list[str]]:
    """Change some lines of an existing file; returns the op and the lines it added."""
    rng = w.rng
    content = tree.files[path]
    added: list[str] = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        op = rng.random()
        pos = rng.randrange(len(content) + 1)
        if op < 0.5 or len(content) < 3:
            new = [w.line(path) for _ in range(max(1, int(rng.lognormvariate(1.2, 1.1))))]
            content[pos:pos] = new
            added += new
        elif op < 0.8:
            pos = min(pos, len(content) - 1)
            new_line = w.line(path)
            content[pos] = new_line
            added.append(new_line)
        else:
            del content[min(pos, len(content) - 1) : pos + rng.randint(1, 4)]
    if risky and rng.random() < 0.5:
        new = [w.line(path) for _ in range(rng.randint(5, 40))]
        content[len(content) // 2 : len(content) // 2] = new
        added += new
    if not content:
        content.append(w.line(path))
    return _put(path, content), added


def generate_history(
    path: Path,
    commits: int = 4000,
    *,
    seed: int = 2026,
    start: int = 1_640_995_200,
    spacing_seconds: float = 5400.0,
) -> SyntheticHistory:
    """Create ``path`` as a git repository with ``commits`` commits (``spacing_seconds``
    apart on average)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(path)],
                   env=git_env(), check=True, capture_output=True)  # fmt: skip
    w = _Writer(seed, start, spacing_seconds)
    rng = w.rng
    tree = _Tree()
    tip = None
    merges = fixes = defects = 0
    weights = [1 / (i + 1) ** 0.9 for i in range(len(_AUTHORS))]
    i = 0
    while i < commits:
        # A side branch every ~60 commits: three commits on new files, merged back.
        if tip and i % 60 == 59 and i + 4 < commits:
            side = tip
            branch_dir = f"features/f{i}"
            side_files: dict[str, list[str]] = {}
            for k in range(3):
                name = f"{branch_dir}/part{k}.py"
                side_files[name] = [w.line(name) for _ in range(rng.randint(5, 30))]
                who = rng.choices(_AUTHORS, weights)[0]
                ops = [_put(name, side_files[name])]
                side = w.commit("refs/heads/side", who, f"Feature {i}: part {k}", ops, side)
            tree.files.update(side_files)
            ops = [_put(p, c) for p, c in side_files.items()]
            tip = w.commit("refs/heads/main", _AUTHORS[0], f"Merge feature {i}", ops, tip, side)
            merges += 1
            i += 4
            continue
        due = [p for p in w.pending if p[0] <= i]
        if due:
            w.pending = [p for p in w.pending if p[0] > i]
            _, fpath, bad = due[0]
            if fpath in tree.files and bad in tree.files[fpath]:
                content = tree.files[fpath]
                content[content.index(bad)] = w.line(fpath) + "  # fixed"
                tip = w.commit("refs/heads/main", rng.choices(_AUTHORS, weights)[0],
                               f"Fix wrong result in {fpath.rsplit('/', 1)[-1]} (#{i})",
                               [_put(fpath, content)], tip)  # fmt: skip
                fixes += 1
                i += 1
                continue
        if tip and rng.random() < 0.03:
            req = tree.files.setdefault("requirements.txt", ["flask==3.0.0"])
            req[0] = f"flask==3.0.{rng.randint(1, 99)}"
            tip = w.commit("refs/heads/main", _BOT, "Bump flask", [_put("requirements.txt", req)],
                           tip)  # fmt: skip
            i += 1
            continue
        author_index = rng.choices(range(len(_AUTHORS)), weights)[0]
        exp = w.experience.get(author_index, 0)
        w.experience[author_index] = exp + 1
        ops: list[bytes] = []
        added: list[tuple[str, str]] = []
        n_files = min(1 + int(rng.expovariate(0.6)), 12)
        sources = [p for p in tree.files if p.endswith(".py")]
        risky = rng.random() < 0.3
        for _ in range(n_files):
            roll = rng.random()
            if not sources or roll < 0.15:
                name = f"{rng.choice(_DIRS)}/m{w.counter}.py"
                tree.files[name] = [w.line(name) for _ in range(rng.randint(3, 60))]
                ops.append(_put(name, tree.files[name]))
                added += [(name, ln) for ln in tree.files[name]]
                sources.append(name)
            elif roll < 0.18 and len(sources) > 5:
                old = rng.choice(sources)
                new = f"{rng.choice(_DIRS)}/r{w.counter}.py"
                w.counter += 1
                tree.files[new] = tree.files.pop(old)
                sources[sources.index(old)] = new
                ops.append(b"R " + old.encode() + b" " + new.encode() + b"\n")
            elif roll < 0.20 and len(sources) > 20:
                gone = rng.choice(sources)
                sources.remove(gone)
                del tree.files[gone]
                ops.append(b"D " + gone.encode() + b"\n")
            elif roll < 0.23:
                name = f"assets/img{rng.randint(0, 30)}.png"
                blob = bytes(rng.getrandbits(8) for _ in range(rng.randint(64, 512))) + b"\x00"
                tree.binaries[name] = blob
                ops.append(b"M 100644 inline " + name.encode() + b"\n" + _data(blob))
            else:
                target = rng.choice(sources)
                op, new_lines = _edit(w, tree, target, risky)
                ops.append(op)
                added += [(target, ln) for ln in new_lines]
        if not ops:
            continue
        churn = len(added)
        z = -2.6 + 0.45 * math.log1p(churn) + 0.25 * math.log1p(n_files) - 0.3 * math.log1p(exp)
        if added and rng.random() < 1 / (1 + math.exp(-z)):
            fpath, bad = rng.choice(added)
            w.pending.append((i + rng.randint(3, 80), fpath, bad))
            defects += 1
        message = rng.choice(["Add", "Update", "Refactor", "Improve", "Rework"]) + f" step {i}"
        tip = w.commit("refs/heads/main", _AUTHORS[author_index], message, ops, tip)
        i += 1
    stream = b"".join(w.out)
    proc = subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=stream,
                          env=git_env(), capture_output=True, check=False)  # fmt: skip
    if proc.returncode:
        raise GitError(f"fast-import failed: {proc.stderr.decode(errors='replace')[-500:]}")
    subprocess.run(["git", "reset", "--quiet", "--hard", "main"], cwd=path, env=git_env(),
                   check=True, capture_output=True)  # fmt: skip
    return SyntheticHistory(path, w.mark, merges, fixes, defects)

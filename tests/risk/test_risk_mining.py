"""Mining: incremental equals full, and the bad inputs of the issue (real repositories)."""

import subprocess

import pytest

from prodsprint_dagster.errors import GitError
from prodsprint_dagster.risk import KAMEI_FEATURES, iter_commits, mine_repository
from prodsprint_dagster.store import HistoryStore
from tests.risk.gitbuild import DAY, T0, Builder, env_with_bytes, git, lines, run_bytes_env

COLUMNS = ("sha", "seq", "parents", "is_merge", "is_bot", *KAMEI_FEATURES)


def _dump(store: HistoryStore, repo: str):
    with store.connect(read_only=True) as con:
        commits = con.execute(
            f"SELECT {', '.join(COLUMNS)} FROM commits WHERE repo = ? ORDER BY seq", [repo]
        ).fetchall()
        files = con.execute(
            "SELECT sha, ord, path, old_path, added, deleted, is_binary, lines_before"
            " FROM commit_files WHERE repo = ? ORDER BY seq, ord",
            [repo],
        ).fetchall()
    return commits, files


def _history(tmp_path):
    b = Builder(tmp_path / "repo")
    marks = []
    for i in range(6):
        who = ("alice", "bob", "carol")[i % 3]
        files = {f"src/m{i % 3}.py": lines(5 + i, f"v{i}"), "README.md": f"{i}\n"}
        message = f"change {i}" + (" fix bug" if i % 2 else "")
        marks.append(b.commit(files, message, who, T0 + i * DAY))
    b.branch("feature", marks[3])
    b.commit({"src/feature.py": lines(7)}, "feature work", "bob", T0 + 7 * DAY)
    b.commit({"src/m0.py": lines(3, "f")}, "feature on m0", "bob", T0 + 8 * DAY)
    b.checkout("main")
    marks.append(b.commit({"src/m1.py": lines(9, "late")}, "late main", "carol", T0 + 9 * DAY))
    marks.append(b.merge("feature", "alice", T0 + 10 * DAY))
    marks.append(b.commit({"docs/x.md": "x\n"}, "docs", "dependabot[bot]", T0 + 11 * DAY))
    return b, marks


def test_incremental_mining_equals_full_mining(tmp_path):
    b, marks = _history(tmp_path)
    full = HistoryStore(tmp_path / "full.duckdb")
    summary = mine_repository(full, "svc", b.path)
    assert summary["new_commits"] == 11 and summary["merges"] == 1

    steps = HistoryStore(tmp_path / "steps.duckdb")
    seen = 0
    for mark in (marks[1], marks[4], marks[6], marks[7], marks[8], marks[8]):
        seen += mine_repository(steps, "svc", b.path, rev=mark)["new_commits"]
    assert seen == 11
    assert _dump(steps, "svc") == _dump(full, "svc")

    commits, _ = _dump(full, "svc")
    merge = [c for c in commits if c[3]]
    assert len(merge) == 1 and len(merge[0][2]) == 2
    bots = [c for c in commits if c[4]]
    assert len(bots) == 1 and bots[0][0] == marks[8]


def test_empty_repository_mines_nothing(tmp_path):
    path = tmp_path / "empty"
    path.mkdir()
    git(path, "init", "--quiet")
    result = mine_repository(HistoryStore(tmp_path / "h.duckdb"), "empty", path)
    assert result["empty"] and result["commits"] == 0 and result["new_commits"] == 0


def test_single_commit(tmp_path):
    b = Builder(tmp_path / "one")
    sha = b.commit({"app.py": lines(3)}, "initial")
    store = HistoryStore(tmp_path / "h.duckdb")
    assert mine_repository(store, "one", b.path)["new_commits"] == 1
    commits, files = _dump(store, "one")
    assert commits[0][0] == sha and commits[0][2] == []
    assert files == [(sha, 0, "app.py", None, 3, 0, False, 0)]


def test_shallow_clone_is_refused_with_a_clear_error(tmp_path):
    b = Builder(tmp_path / "origin")
    for i in range(3):
        b.commit({"a.py": lines(i + 1)}, f"c{i}", when=T0 + i * DAY)
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "--quiet", "--depth", "1", f"file://{b.path}", str(clone))
    with pytest.raises(GitError, match=r"shallow clone.*--unshallow"):
        mine_repository(HistoryStore(tmp_path / "h.duckdb"), "shallow", clone)


def test_not_a_repository_and_unknown_revision(tmp_path):
    with pytest.raises(GitError, match="not a directory"):
        mine_repository(HistoryStore(tmp_path / "h.duckdb"), "x", tmp_path / "missing")
    b = Builder(tmp_path / "r")
    b.commit({"a": "1\n"}, "one")
    with pytest.raises(GitError, match="does not name a commit"):
        mine_repository(HistoryStore(tmp_path / "h.duckdb"), "r", b.path, rev="nope")
    with pytest.raises(GitError, match="starts with '-'"):
        mine_repository(HistoryStore(tmp_path / "h.duckdb"), "r", b.path, rev="--output=/tmp/x")


def test_huge_commit(tmp_path):
    b = Builder(tmp_path / "huge")
    files = {f"pkg{i % 40}/mod{i}.py": lines(i % 7 + 1) for i in range(1500)}
    b.commit(files, "vendor everything")
    store = HistoryStore(tmp_path / "h.duckdb")
    mine_repository(store, "huge", b.path)
    commits, rows = _dump(store, "huge")
    nf = commits[0][COLUMNS.index("nf")]
    assert nf == 1500 and len(rows) == 1500
    assert commits[0][COLUMNS.index("ns")] == 40
    assert commits[0][COLUMNS.index("la")] == sum(i % 7 + 1 for i in range(1500))


def test_odd_names_paths_and_encodings(tmp_path):
    b = Builder(tmp_path / "odd")
    odd = ["tab\there.py", "new\nline.py", '"quoted".py', "ünïcödé/файл.py", "sp ace/-dash.py"]
    b.commit({p: "x\n" for p in odd}, "odd paths")
    # An author name and a message that are not UTF-8 (Latin-1 bytes), through raw bytes.
    (b.path / "later.py").write_text("y\n")
    git(b.path, "add", "--", "later.py")
    env = env_with_bytes(
        GIT_AUTHOR_NAME=b"Jos\xe9 M\xfcller", GIT_AUTHOR_EMAIL=b"jose@example.test",
        GIT_COMMITTER_NAME=b"Jos\xe9", GIT_COMMITTER_EMAIL=b"jose@example.test",
    )  # fmt: skip
    msg = tmp_path / "msg.txt"
    msg.write_bytes(b"caf\xe9 fix\n\nbody with \x1e record separator\n")
    run_bytes_env(b.path, ["commit", "--quiet", "--no-gpg-sign", "-F", str(msg)], env)

    commits = list(iter_commits(b.path))
    assert sorted(f.path for f in commits[0].files) == sorted(odd)
    # git re-encodes what it can (Latin-1 -> UTF-8); anything else is replaced, never fatal.
    assert commits[1].author_name in ("José Müller", "Jos\ufffd M\ufffdller")
    assert commits[1].message.startswith(("café fix", "caf\ufffd fix"))
    assert "\x1e record separator" in commits[1].message
    store = HistoryStore(tmp_path / "h.duckdb")
    assert mine_repository(store, "odd", b.path)["new_commits"] == 2
    with store.connect(read_only=True) as con:
        fix, name = con.execute(
            "SELECT fix, author_name FROM commits WHERE repo = 'odd' ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert fix == 1 and name.startswith("Jos")


def test_git_log_failure_is_reported(tmp_path):
    b = Builder(tmp_path / "r")
    b.commit({"a": "1\n"}, "one")
    # Corrupt the repository under git: its objects vanish.
    subprocess.run(["rm", "-rf", str(b.path / ".git" / "objects")], check=True)
    with pytest.raises(GitError):
        mine_repository(HistoryStore(tmp_path / "h.duckdb"), "r", b.path)


def test_a_concurrent_pass_that_loses_the_race_writes_nothing(tmp_path):
    from prodsprint_dagster.errors import StoreError
    from prodsprint_dagster.risk.mining import MinedBatch, Miner, write_batch

    b = Builder(tmp_path / "r")
    b.commit({"a.py": "1\n"}, "one")
    store = HistoryStore(tmp_path / "h.duckdb")
    # Two passes that both started before either wrote: the second must fail cleanly.
    batches = []
    for _ in range(2):
        miner, batch = Miner("r"), MinedBatch()
        for raw in iter_commits(b.path):
            miner.add(raw, batch)
        batches.append(batch)
    write_batch(store, "r", b.head(), batches[0])
    with pytest.raises(StoreError, match="another process mined the same commits"):
        write_batch(store, "r", b.head(), batches[1])
    assert len(_dump(store, "r")[0]) == 1

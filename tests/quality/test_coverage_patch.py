"""Patch coverage on real git diffs, including a patch with no coverable lines."""

import pytest

from prodsprint_dagster.errors import GitError
from prodsprint_dagster.quality.coverage import (
    EMPTY_TREE,
    CoverageData,
    changed_lines,
    first_parent,
    patch_coverage,
    resolve_commit,
)
from tests.conftest import run_git

APP_V1 = """def add(a, b):
    return a + b


def sub(a, b):
    return a - b
"""
APP_V2 = """def add(a, b):
    # adds two numbers
    return a + b


def sub(a, b):
    if a < b:
        raise ValueError("negative")
    return a - b
"""


def commit_all(repo, message):
    run_git(repo.path, "add", "--all")
    run_git(repo.path, "commit", "-q", "--no-gpg-sign", "-m", message)
    return repo.head()


def coverage_of_v2():
    """What coverage.py reports for APP_V2 and a new module when only add() is tested."""
    data = CoverageData()
    app = data.file("app.py")
    for line, hits in {1: 1, 3: 1, 6: 1, 7: 0, 8: 0, 9: 0}.items():  # comment line 2 excluded
        app.hit(line, hits)
    new = data.file("pkg/new.py")
    for line, hits in {1: 1, 2: 1, 3: 0}.items():
        new.hit(line, hits)
    return data


def test_patch_coverage_of_a_real_change(make_repo):
    repo = make_repo("calc", commits=0)
    (repo.path / "app.py").write_text(APP_V1)
    (repo.path / "README.md").write_text("# calc\n")
    base = commit_all(repo, "v1")
    (repo.path / "app.py").write_text(APP_V2)
    (repo.path / "README.md").write_text("# calc\n\nAdds and subtracts.\n")
    (repo.path / "pkg").mkdir()
    (repo.path / "pkg/new.py").write_text("import os\nX = 1\nprint(X)\n")
    head = commit_all(repo, "v2")

    changed = changed_lines(repo.path, base, head)
    assert changed == {"app.py": {2, 7, 8}, "README.md": {2, 3}, "pkg/new.py": {1, 2, 3}}
    patch = patch_coverage(coverage_of_v2(), changed, base)
    # app.py: 7 and 8 are coverable and missed (2 is a comment); new.py: 2 of 3 covered.
    assert (patch["coverable"], patch["covered"], patch["percent"]) == (5, 2, 40.0)
    assert patch["files"] == [
        {"path": "app.py", "coverable": 2, "covered": 0, "percent": 0.0, "missing": "7-8"},
        {"path": "pkg/new.py", "coverable": 3, "covered": 2, "percent": 66.67, "missing": "3"},
    ]
    assert first_parent(repo.path, head) == base
    assert first_parent(repo.path, base) == EMPTY_TREE  # a root commit: every line is new
    assert changed_lines(repo.path, EMPTY_TREE, base) == {"app.py": set(range(1, 7)),
                                                          "README.md": {1}}  # fmt: skip


def test_a_patch_without_coverable_lines_passes_as_none(make_repo):
    repo = make_repo("docs", commits=0)
    (repo.path / "app.py").write_text(APP_V2)
    base = commit_all(repo, "v2")
    (repo.path / "README.md").write_text("docs only\n")
    (repo.path / "app.py").write_text(APP_V2.replace("# adds two numbers", "# adds two ints"))
    head = commit_all(repo, "docs and a comment")

    changed = changed_lines(repo.path, base, head)
    assert changed == {"README.md": {1}, "app.py": {2}}
    patch = patch_coverage(coverage_of_v2(), changed, base)
    assert (patch["coverable"], patch["covered"], patch["percent"]) == (0, 0, None)
    assert patch["files"] == [] and patch["changed_files"] == 2


def test_work_tree_renames_deletions_and_odd_names(make_repo):
    repo = make_repo("odd", commits=0)
    (repo.path / "old.py").write_text("a = 1\nb = 2\nc = 3\nd = 4\n")
    (repo.path / "gone.py").write_text("x = 1\n")
    base = commit_all(repo, "base")
    run_git(repo.path, "mv", "old.py", "renamed.py")
    (repo.path / "renamed.py").write_text("a = 1\nb = 20\nc = 3\nd = 4\n")
    (repo.path / "gone.py").unlink()
    (repo.path / 'we"ird näme.py').write_text("y = 2\n")
    # Uncommitted changes count when comparing with the work tree (head None).
    run_git(repo.path, "add", "--all")
    assert changed_lines(repo.path, base) == {"renamed.py": {2}, 'we"ird näme.py': {1}}


def test_refs_are_never_options(make_repo, tmp_path):
    repo = make_repo("refs", commits=2)
    assert resolve_commit(repo.path, "HEAD") == repo.head()
    assert resolve_commit(repo.path, "HEAD~1") == first_parent(repo.path, repo.head())
    victim = tmp_path / "written"
    with pytest.raises(GitError, match="is not a commit"):
        resolve_commit(repo.path, f"--output={victim}")
    assert not victim.exists()
    with pytest.raises(GitError):
        changed_lines(tmp_path, "HEAD~1")  # not a repository

"""The git client against real repositories: local paths and a git:// server on loopback."""

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from prodsprint_dagster.errors import GitError, InvalidNameError
from prodsprint_dagster.git import GitClient, git_env


@pytest.fixture
def git(tmp_path):
    return GitClient(tmp_path / "home" / "git", timeout=30)


def test_branch_head_of_a_local_repository(git, make_repo):
    repo = make_repo(commits=2)
    assert git.branch_head(str(repo.path), "main") == repo.head()


def test_branch_head_over_the_git_protocol(git, make_repo, git_daemon):
    served, base_url = git_daemon
    repo = make_repo("remote", commits=2)
    shutil.copytree(repo.path / ".git", served / "remote.git")
    assert git.branch_head(f"{base_url}/remote.git", "main") == repo.head()
    with pytest.raises(GitError, match="branch 'nope' does not exist"):
        git.branch_head(f"{base_url}/remote.git", "nope")


def test_mirror_checkout_and_commit_facts(git, make_repo):
    repo = make_repo(commits=1)
    first = repo.head()
    second = repo.commit("lib/util.py", "x = 1\n", "Add util")
    git.sync_mirror("svc", str(repo.path))
    assert git.resolve_branch("svc", "main") == second

    info = git.commit_info("svc", second)
    assert info.parents == (first,)
    assert info.subject == "Add util"
    assert info.author_email == "author@example.test"
    assert git.tree_stats("svc", second) == (2, len("print(0)\n") + len("x = 1\n"))

    old = git.checkout("svc", first)
    new = git.checkout("svc", second)
    assert old != new
    assert not (old / "lib").exists() and (new / "lib" / "util.py").is_file()
    # A new commit upstream is visible after the next sync.
    third = repo.commit("app.py", "print('v3')\n")
    git.sync_mirror("svc", str(repo.path))
    assert git.resolve_branch("svc", "main") == third


def test_concurrent_checkouts_of_one_commit_agree(git, make_repo):
    repo = make_repo(commits=1)
    git.sync_mirror("svc", str(repo.path))
    with ThreadPoolExecutor(4) as pool:
        trees = set(pool.map(lambda _: git.checkout("svc", repo.head()), range(4)))
    assert len(trees) == 1
    assert (trees.pop() / "app.py").read_text() == "print(0)\n"


def test_old_worktrees_are_pruned(tmp_path, make_repo):
    git = GitClient(tmp_path / "g", keep_worktrees=2)
    repo = make_repo(commits=1)
    shas = [repo.head()] + [repo.commit("app.py", f"v{i}\n") for i in range(3)]
    git.sync_mirror("svc", str(repo.path))
    for sha in shas:
        git.checkout("svc", sha)
    assert len(list((tmp_path / "g" / "worktrees" / "svc").iterdir())) == 2


def test_errors_name_the_problem(git, make_repo, tmp_path):
    repo = make_repo(commits=1)
    with pytest.raises(GitError, match="branch 'develop' does not exist"):
        git.branch_head(str(repo.path), "develop")
    with pytest.raises(GitError, match="does not exist or is not a directory"):
        git.branch_head(str(tmp_path / "missing"), "main")
    with pytest.raises(GitError, match=r"Could not read from remote|Connection refused|unable"):
        git.branch_head("git://127.0.0.1:1/nothing.git", "main")
    git.sync_mirror("svc", str(repo.path))
    with pytest.raises(GitError, match="unknown commit " + "0" * 40):
        git.checkout("svc", "0" * 40)
    with pytest.raises(InvalidNameError):
        git.checkout("svc", "HEAD")
    with pytest.raises(GitError, match="not mirrored yet"):
        git.commit_info("other", repo.head())


def test_transport_helpers_never_run(git, tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(InvalidNameError):
        git.branch_head(f"ext::sh -c touch% {marker}", "main")
    with pytest.raises(InvalidNameError):
        git.sync_mirror("svc", f"ext::sh -c touch% {marker}")
    # Even git itself, run with our environment, refuses the helper.
    proc = subprocess.run(
        ["git", "ls-remote", f"ext::sh -c touch% {marker}"],
        env=git_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert not marker.exists()


def test_hooks_planted_in_a_mirror_do_not_run(git, make_repo, tmp_path):
    repo = make_repo(commits=1)
    marker = tmp_path / "hook-ran"
    mirror = git.sync_mirror("svc", str(repo.path))
    hook = mirror / "hooks" / "post-checkout"  # `git worktree add` would run it
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    git.checkout("svc", repo.head())
    assert not marker.exists()
    # The same checkout without our hardening does run it: the test can fail.
    subprocess.run(
        ["git", "-C", str(mirror), "worktree", "add", "--detach", str(tmp_path / "wt"),
         repo.head()],
        env=git_env(), capture_output=True, check=True,
    )  # fmt: skip
    assert marker.exists()


def test_commit_to_branch_leaves_the_users_checkout_alone(git, make_repo):
    repo = make_repo(commits=1)
    base = repo.head()
    git.sync_mirror("svc", str(repo.path))
    files = {"deploy/main.tf": 'resource "terraform_data" "svc" {}\n', "README.md": "plan\n"}
    sha = git.commit_to_branch("svc", base, "prodsprint/plan-abc", files, message="Plan",
                               push=True)  # fmt: skip
    assert git.read_file("svc", sha, "deploy/main.tf") == files["deploy/main.tf"]
    assert git.read_file("svc", sha, "nope.txt") is None
    assert git.commit_info("svc", sha).parents == (base,)
    # Pushed to the user's repository as a branch; their checkout and HEAD are untouched.
    from tests.conftest import run_git

    assert run_git(repo.path, "rev-parse", "prodsprint/plan-abc").strip() == sha
    assert repo.head() == base
    assert not (repo.path / "deploy").exists()
    assert run_git(repo.path, "status", "--porcelain") == ""


def test_commit_to_branch_refuses_paths_outside_the_tree(git, make_repo):
    repo = make_repo(commits=1)
    git.sync_mirror("svc", str(repo.path))
    with pytest.raises(InvalidNameError):
        git.commit_to_branch("svc", repo.head(), "p", {"../escape": "x"}, message="m")

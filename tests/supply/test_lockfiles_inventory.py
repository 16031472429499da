# ruff: noqa: E501 - fixtures reproduce lockfile lines as the tools write them
"""build_inventory: the walk, the precedence rules (lock over manifest, go.mod with go.sum),
the unique-purl dedupe and the gaps it collects on a real multi-ecosystem tree."""

from __future__ import annotations

import json
import os

from lock_helpers import gap_codes, write_tree

from prodsprint_dagster.supply.inventory import build_inventory, find_lockfiles

UV_WORKSPACE_LOCK = """
version = 1
requires-python = ">=3.11"

[manifest]
members = ["app", "worker"]

[[package]]
name = "app"
version = "0.1.0"
source = { virtual = "." }
dependencies = [{ name = "httpx" }, { name = "worker" }]

[[package]]
name = "httpx"
version = "0.27.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "redis"
version = "5.0.3"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "worker"
version = "0.1.0"
source = { editable = "worker" }
dependencies = [{ name = "redis" }]
"""


def test_walk_skips_vcs_installed_vendored_and_virtualenv_dirs(tmp_path):
    write_tree(
        tmp_path,
        {
            "package-lock.json": '{"lockfileVersion": 3, "packages": {}}',
            "web/yarn.lock": "# yarn lockfile v1\n",
            "node_modules/dep/package-lock.json": "{}",
            ".venv/lib/requirements.txt": "x==1\n",
            "vendor/github.com/x/go.mod": "module x\n",
            ".git/requirements.txt": "x==1\n",
            "svc/requirements/prod.txt": "flask==3.0.3\n",
            "svc/README.txt": "not a lockfile",
            "mobile/bun.lockb": "\x00",
        },
    )
    os.symlink(tmp_path / "web", tmp_path / "web-link")  # a directory symlink is not walked
    found, gaps = find_lockfiles(tmp_path)
    assert found == [
        "mobile/bun.lockb",
        "package-lock.json",
        "svc/requirements/prod.txt",
        "web/yarn.lock",
    ]
    assert gaps == []


def test_inventory_prefers_locks_over_manifests_and_pairs_go_files(tmp_path):
    write_tree(
        tmp_path,
        {
            # A uv workspace: the root pyproject and the member's are covered by uv.lock.
            "pyproject.toml": """
            [project]
            name = "app"
            dependencies = ["httpx>=0.27", "worker"]

            [tool.uv.workspace]
            members = ["worker"]
            """,
            "worker/pyproject.toml": '[project]\nname = "worker"\ndependencies = ["redis"]\n',
            "uv.lock": UV_WORKSPACE_LOCK,
            # A standalone project without a lock: its manifest is all there is.
            "tools/cli/pyproject.toml": '[project]\nname = "cli"\ndependencies = ["click>=8"]\n',
            # Go: go.mod with its go.sum.
            "svc-go/go.mod": "module example.com/svc\n\ngo 1.22\n\nrequire github.com/google/uuid v1.6.0\n",
            "svc-go/go.sum": (
                "github.com/google/uuid v1.6.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=\n"
                "github.com/google/uuid v1.6.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=\n"
            ),
        },
    )
    inv = build_inventory(tmp_path)
    assert inv.lockfiles == [
        "svc-go/go.mod",
        "svc-go/go.sum",
        "tools/cli/pyproject.toml",
        "uv.lock",
    ]
    assert set(inv.components) == {
        "pkg:pypi/httpx@0.27.0",
        "pkg:pypi/redis@5.0.3",
        "pkg:pypi/click",
        "pkg:golang/github.com/google/uuid@v1.6.0",
    }
    assert inv.components["pkg:pypi/redis@5.0.3"].workspace == "worker"
    assert inv.components["pkg:golang/github.com/google/uuid@v1.6.0"].hashes[0][0] == "go-h1"
    assert [(g.code, g.file, g.line) for g in inv.gaps] == [
        ("unpinned_requirement", "tools/cli/pyproject.toml", 3)
    ]


def test_dedupe_by_purl_first_occurrence_wins_scope_merged_hashes_unioned(tmp_path):
    sha_a, sha_b = "a" * 64, "b" * 64
    write_tree(
        tmp_path,
        {
            "poetry.lock": f"""
            [[package]]
            name = "requests"
            version = "2.31.0"
            optional = false
            python-versions = ">=3.7"
            groups = ["dev"]
            files = [{{file = "requests-2.31.0.tar.gz", hash = "sha256:{sha_a}"}}]

            [metadata]
            lock-version = "2.1"
            """,
            "requirements.txt": f"requests==2.31.0 --hash=sha256:{sha_b}\n",
            "requirements-dev.txt": "-r requirements.txt\nRequests==2.31.0\n",
        },
    )
    inv = build_inventory(tmp_path)
    assert list(inv.components) == ["pkg:pypi/requests@2.31.0"]
    req = inv.components["pkg:pypi/requests@2.31.0"]
    assert (req.source, req.line) == ("poetry.lock", 1)  # the lock is read first
    assert req.scope == "required"  # dev in the lock, required in requirements.txt
    assert req.hashes == (("SHA-256", sha_a), ("SHA-256", sha_b))
    assert inv.gaps == []


def test_a_malformed_lockfile_is_a_gap_and_the_others_still_count(tmp_path):
    write_tree(
        tmp_path,
        {
            "api/package-lock.json": json.dumps(
                {
                    "lockfileVersion": 3,
                    "packages": {"node_modules/lodash": {"version": "4.17.21"}},
                },
                indent=2,
            ),
            "web/package-lock.json": '{\n  "lockfileVersion": 3,\n  "packages": {\n    oops\n',
            "worker/Cargo.lock": 'version = 3\n\n[[package]]\nname = "serde"\nversion = "1.0.197"\n'
            'source = "registry+https://github.com/rust-lang/crates.io-index"\n',
        },
    )
    inv = build_inventory(tmp_path)
    assert set(inv.components) == {"pkg:npm/lodash@4.17.21", "pkg:cargo/serde@1.0.197"}
    assert [(g.code, g.file, g.line) for g in inv.gaps] == [
        ("malformed_lockfile", "web/package-lock.json", 4)
    ]
    assert "web/package-lock.json" in inv.lockfiles


def test_explicit_lockfiles_are_added_and_checked(tmp_path):
    write_tree(
        tmp_path,
        {
            "build/requirements.txt": "six==1.16.0\n",  # "build" is skipped by the walk
            "requirements.txt": "attrs==23.2.0\n",
        },
    )
    inv = build_inventory(
        tmp_path,
        lockfiles=["build/requirements.txt", "../etc/passwd", "missing/poetry.lock"],
    )
    assert set(inv.components) == {"pkg:pypi/six@1.16.0", "pkg:pypi/attrs@23.2.0"}
    assert [(g.code, g.file) for g in inv.gaps] == [
        ("unsafe_path", "../etc/passwd"),
        ("unreadable_lockfile", "missing/poetry.lock"),
    ]


def test_symlinked_and_oversized_lockfiles_in_the_walk(tmp_path):
    outside = tmp_path / "outside"
    write_tree(outside, {"Gemfile.lock": "GEM\n  specs:\n    rack (3.0.10)\n"})
    repo = tmp_path / "repo"
    write_tree(repo, {"requirements.txt": "six==1.16.0\n"})
    os.symlink(outside / "Gemfile.lock", repo / "Gemfile.lock")
    with open(repo / "composer.lock", "wb") as fh:
        fh.truncate(64 * 1024 * 1024 + 10)
    inv = build_inventory(repo)
    assert list(inv.components) == ["pkg:pypi/six@1.16.0"]
    assert sorted(gap_codes(inv.gaps)) == ["lockfile_too_large", "unsafe_path"]
    assert inv.lockfiles == ["requirements.txt"]

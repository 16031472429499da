"""Hostile trees (links, binaries, huge, broken files, deep nesting) and the example service."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from audit_helpers import audit, engines, gap_codes, service, write_tree

from prodsprint_dagster.audit import audit_repository, render_markdown, validate_report
from prodsprint_dagster.errors import ProdSprintError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop-api"


def test_unusable_root_raises(tmp_path):
    with pytest.raises(ProdSprintError):
        audit_repository(tmp_path / "missing")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ProdSprintError):
        audit_repository(tmp_path / "f")


def test_links_binary_oversized_non_utf8(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("import os\nos.getenv('OUTSIDE_VAR')\n")
    root = write_tree(
        tmp_path / "repo",
        {
            "app.py": "import os\nos.getenv('INSIDE_VAR')\n",
            "blob.dat2": b"\x00\x01\x02" * 100,
            "big.py": "x = 1\n" * 200_000,
            "latin.py": b"import os\nos.getenv('LATIN_VAR')\n" + b"# caf\xe9\n",
        },
    )
    os.symlink(outside, root / "link_out")
    os.symlink(root, root / "loop")
    os.symlink(outside / "secret.py", root / "file_link.py")
    report = audit_repository(root)
    validate_report(report)
    reasons = {s["path"]: s["reason"] for s in report["skipped"]}
    assert "outside the tree" in reasons["link_out"]
    assert "outside the tree" in reasons["file_link.py"]
    assert reasons["loop"].startswith("symlink")
    assert reasons["blob.dat2"] == "binary"
    assert reasons["big.py"].startswith("larger than")
    assert "UTF-8" in reasons["latin.py"]
    names = {e["name"] for e in report["env_vars"]}
    assert names == {"INSIDE_VAR", "LATIN_VAR"}


def test_malformed_files_become_gaps(tmp_path):
    r = audit(
        tmp_path,
        {
            "docker-compose.yml": "services:\n  web: [unclosed\n",
            "k8s/app.yaml": "apiVersion: v1\nkind: : bad\n",
            "package.json": '{"name": "x",',
            "pyproject.toml": "[project\nname = 1\n",
            "pom.xml": "<project><dependencies></project>",
            "app.py": "from flask import Flask\n",
        },
    )
    malformed = [g for g in r["gaps"] if g["code"] == "malformed_file"]
    files = {g["message"].split(":", 1)[0] for g in malformed}
    assert files == {
        "docker-compose.yml",
        "k8s/app.yaml",
        "package.json",
        "pyproject.toml",
        "pom.xml",
    }
    assert all("does not parse" in g["message"] for g in malformed)
    assert service(r, "repo")["framework"] == "flask"  # the audit went on


def test_deep_nesting_is_bounded(tmp_path):
    root = tmp_path / "deep"
    path = root
    for i in range(60):
        path = path / f"d{i}"
    path.mkdir(parents=True)
    (path / "x.py").write_text("import os\nos.getenv('DEEP')\n")
    report = audit_repository(root)
    validate_report(report)
    assert any("deeper than" in s["reason"] for s in report["skipped"])
    assert report["env_vars"] == []


def test_linguist_exclusions_and_gitattributes(tmp_path):
    r = audit(
        tmp_path,
        {
            ".gitattributes": "gen/** linguist-generated\nvendor/** -linguist-vendored\n",
            "main.py": "print(1)\n",
            "gen/big.py": "x = 1\n" * 100,
            "node_modules/lib/index.js": "process.env.NOPE\n",
            "vendor/own.go": "package own\n",
            "docs/conf.py": "import os\nos.getenv('DOCS')\n",
            "static/app.min.js": "var a=1;",
        },
    )
    langs = {lg["name"] for lg in r["languages"]}
    assert langs == {"Python", "Go"}
    assert next(lg for lg in r["languages"] if lg["name"] == "Python")["bytes"] == len("print(1)\n")
    assert r["env_vars"] == []


def test_deterministic(tmp_path):
    root = write_tree(tmp_path / "r", {"a.py": "import os\nos.getenv('B')\nos.getenv('A')\n"})
    first = json.dumps(audit_repository(root), sort_keys=True)
    assert first == json.dumps(audit_repository(root), sort_keys=True)


def test_shop_api_example():
    r = audit_repository(EXAMPLE)
    validate_report(r)
    assert [s["name"] for s in r["services"]] == ["shop-api"]
    s = service(r, "shop-api")
    assert (s["framework"], s["language"], s["role"]) == ("flask", "Python", "app")
    assert "gunicorn" in s["start_command"]
    assert (s["port"], s["port_source"]) == (8000, "start_command")
    assert s["port_evidence"] == ["Dockerfile:10", "Dockerfile:8"]
    assert s["dockerfile"] == "Dockerfile" and s["health_evidence"]
    mig = r["migrations"]
    assert [(m["tool"], m["count"], m["has_down"]) for m in mig] == [("alembic", 1, True)]
    assert [(t["framework"], t["command"]) for t in r["tests"]] == [("pytest", "pytest")]
    assert [c["system"] for c in r["ci"]] == ["github-actions"]
    assert "requirements.txt" in {lf["path"] for lf in r["lockfiles"]}
    env = {e["name"]: e for e in r["env_vars"]}
    assert {"PORT", "LOG_LEVEL", "DATABASE_URL", "PAYMENT_API_KEY"} <= env.keys()
    assert env["PORT"]["default"] == "8000" and env["LOG_LEVEL"]["default"] == "info"
    for name in ("DATABASE_URL", "PAYMENT_API_KEY"):
        assert env[name]["secret_like"] and env[name]["default"] is None
    assert engines(r) == {"postgres", "sqlite"}
    pg = next(d for d in r["datastores"] if d["engine"] == "postgres")
    assert pg["evidence"] == [".env.example:3"]
    assert (
        "shop/db.py:20" in next(d for d in r["datastores"] if d["engine"] == "sqlite")["evidence"]
    )
    assert r["secrets"] == []
    assert gap_codes(r) == set()
    md = render_markdown(r)
    assert "| shop-api | app | flask | 8000 |" in md

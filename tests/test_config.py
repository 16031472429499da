from pathlib import Path

import pytest

from prodsprint_dagster.config import load_config
from prodsprint_dagster.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prodsprint.yaml"
    path.write_text(text)
    return path


def test_missing_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("PRODSPRINT_HOME", raising=False)
    cfg = load_config(tmp_path / "prodsprint.yaml")
    assert cfg.repos == ()
    assert cfg.home_path == tmp_path / ".prodsprint"
    assert cfg.history_path == tmp_path / ".prodsprint" / "history.duckdb"


def test_home_env_overrides_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PRODSPRINT_HOME", str(tmp_path / "elsewhere"))
    cfg = load_config(write(tmp_path, "home: here\n"))
    assert cfg.home_path == tmp_path / "elsewhere"


def test_relative_repo_paths_resolve_against_the_file(tmp_path):
    cfg = load_config(write(tmp_path, "repos:\n  - name: shop\n    url: ./repos/shop\n"))
    assert cfg.repo("shop").url == str(tmp_path / "repos" / "shop")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("repos: [\n", r"prodsprint.yaml: line 2, column 1: invalid YAML"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("hme: x\n", r"hme: unknown key"),
        ("repos:\n  - name: Bad/Name\n    url: /x\n", r"repos\[0\]\.name: repository name"),
        ("repos:\n  - name: ok\n    url: 'ext::sh -c id'\n", r"repos\[0\]\.url: .*transport"),
        ("repos:\n  - name: ok\n    url: /x\n    branch: 'a..b'\n", r"repos\[0\]\.branch"),
        ("repos:\n  - name: ok\n", r"repos\[0\]\.url: Field required"),
        ("repos:\n  - {name: a, url: /x}\n  - {name: a, url: /y}\n", "registered twice"),
        ("repos:\n  - {name: a, url: /x, target: mars}\n", r"repos\[0\]\.target"),
        ("stores:\n  artifacts:\n    kind: s3\n", r"stores\.artifacts: .*bucket"),
        ("git:\n  head_lookup_workers: 0\n", r"git\.head_lookup_workers"),
    ],
)
def test_malformed_config_names_the_file_and_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_unknown_repo_lists_the_registered_ones(tmp_path):
    cfg = load_config(write(tmp_path, "repos:\n  - {name: shop, url: /x}\n"))
    with pytest.raises(ConfigError, match=r"no repository named 'nope' \(registered: shop\)"):
        cfg.repo("nope")

"""Bad and hostile input: every format's malformed file is a gap naming file and line, never an
exception; symlinks out of the tree, oversized files, entity bombs and huge lockfiles."""

from __future__ import annotations

import json
import os

import pytest
from lock_helpers import gap_codes, parse_one, write_tree

from prodsprint_dagster.supply.lockfiles import MAX_LOCKFILE_BYTES, parse_lockfile

MALFORMED = [
    ("package-lock.json", '{\n  "lockfileVersion": 3,\n  "packages": {,\n}\n', 3),
    ("npm-shrinkwrap.json", '{"packages": {"node_modules/a": 7}}', None),
    ("yarn.lock", '# yarn lockfile v1\n\nlodash@^4:\n  version "4.17.21\n', 4),
    ("yarn.lock", 'lodash@^4:\n  version "4.17.21"\n   resolved x\n bad\n', 3),
    ("yarn.lock", '__metadata:\n  version: 8\n\n"a@npm:1":\n  version: [1,\n', 6),
    ("pnpm-lock.yaml", "lockfileVersion: '9.0'\npackages:\n  a@1.0.0: {resolution: [}\n", 3),
    ("pnpm-lock.yaml", "lockfileVersion: next\n", 1),
    (
        "bun.lock",
        '{\n  "lockfileVersion": 1,\n  "packages": {\n    "a": ["a@1.0.0" "x"],\n  }\n}\n',
        4,
    ),
    ("poetry.lock", '[[package]]\nname = "a"\nversion = 1.0.0\n', 3),
    ("poetry.lock", '[[package]]\nname = "a"\nversion = "1"\n\n[[package]]\nversion = "1.0"\n', 5),
    ("uv.lock", 'requires-python = ">=3.11"\n', 1),
    ("Pipfile.lock", '{\n  "default": {\n    "a": {"version": "==1.0"}\n  ]\n}\n', 4),
    ("pdm.lock", "[metadata\n", 1),
    ("pyproject.toml", '[project]\ndependencies = ["a",\n', 2),
    ("go.mod", "module example.com/x\n\ngo 1.22\n\nrequire (\n\tgithub.com/a/b\n)\n", 6),
    ("go.mod", "module example.com/x\nfrobnicate github.com/a/b v1\n", 2),
    ("go.sum", "github.com/a/b v1.0.0 h1:abc=\ngarbage\n", 2),
    ("Cargo.lock", 'version = 3\n\n[[package]]\nname = "a"\n', 3),
    ("Gemfile.lock", "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack 3.0.10\n", 4),
    ("composer.lock", '{"packages": [{"name": "a/b"}]}', None),
    ("gradle.lockfile", "# Gradle\ncom.acme:only-two=runtimeClasspath\n", 2),
    (
        "pom.xml",
        "<project>\n  <dependencies>\n    <dependency>\n  </dependencies>\n</project>\n",
        4,
    ),
    ("requirements.txt", "flask==3.0.3\nthis is not a requirement!\n", 2),
]


@pytest.mark.parametrize(("name", "text", "line"), MALFORMED)
def test_malformed_lockfile_is_a_gap_with_file_and_line(tmp_path, name, text, line):
    rel = f"svc/{name}"
    (tmp_path / "svc").mkdir()
    (tmp_path / rel).write_text(text)
    comps, gaps = parse_lockfile(tmp_path / rel, rel)
    assert "malformed_lockfile" in gap_codes(gaps), gaps
    gap = next(g for g in gaps if g.code == "malformed_lockfile")
    assert gap.file == rel
    assert gap.line == line, gap
    assert gap.message
    if name != "requirements.txt":
        assert comps == []
    else:  # a requirements file keeps its good lines
        assert [c.purl for c in comps] == ["pkg:pypi/flask@3.0.3"]


def test_entity_bombs_and_external_entities_are_refused(tmp_path):
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
        ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n'
        "<project><properties><v>&lol2;</v></properties></project>\n"
    )
    xxe = (
        '<?xml version="1.0"?>\n<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        "<project><version>&x;</version></project>\n"
    )
    for name, text in (("bomb", bomb), ("xxe", xxe)):
        write_tree(tmp_path / name, {"pom.xml": text})
        comps, gaps = parse_one(tmp_path / name, "pom.xml")
        assert comps == {}
        assert [(g.code, g.line) for g in gaps] == [("malformed_lockfile", 2)]
        assert "document type" in gaps[0].message


def test_yaml_alias_bomb_does_not_blow_up(tmp_path):
    lines = ["lockfileVersion: '9.0'", "a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(
            f"a{i}: &a{i} [*a{'' if i == 1 else i - 1}" + f", *a{'' if i == 1 else i - 1}" * 8 + "]"
        )
    lines.append("packages: {}")
    write_tree(tmp_path, {"pnpm-lock.yaml": "\n".join(lines) + "\n"})
    comps, gaps = parse_one(tmp_path, "pnpm-lock.yaml")
    assert comps == {} and gaps == []


def test_deeply_nested_json_is_a_gap(tmp_path):
    (tmp_path / "package-lock.json").write_text(
        '{"packages": ' + "[" * 100_000 + "]" * 100_000 + "}"
    )
    comps, gaps = parse_one(tmp_path, "package-lock.json")
    assert comps == {} and gap_codes(gaps) == ["malformed_lockfile"]


def test_symlink_out_of_the_repository_is_not_followed(tmp_path):
    outside = tmp_path / "outside"
    write_tree(outside, {"requirements.txt": "secret==1.0\n"})
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(outside / "requirements.txt", repo / "requirements.txt")
    write_tree(repo, {"inside/requirements.txt": "six==1.16.0\n"})
    os.symlink(repo / "inside" / "requirements.txt", repo / "requirements-ok.txt")
    comps, gaps = parse_one(repo, "requirements.txt")
    assert comps == {}
    assert [(g.code, g.file) for g in gaps] == [("unsafe_path", "requirements.txt")]
    comps, gaps = parse_one(repo, "requirements-ok.txt")  # a symlink inside the tree is fine
    assert list(comps) == ["pkg:pypi/six@1.16.0"] and gaps == []


def test_files_over_the_size_limit_are_a_gap_and_not_read(tmp_path):
    path = tmp_path / "package-lock.json"
    with open(path, "wb") as fh:
        fh.truncate(MAX_LOCKFILE_BYTES + 1)  # sparse: no 64 MiB actually written
    comps, gaps = parse_one(tmp_path, "package-lock.json")
    assert comps == {}
    assert gap_codes(gaps) == ["lockfile_too_large"]
    assert str(MAX_LOCKFILE_BYTES) in gaps[0].message


def test_unsupported_and_unknown_files_are_gaps(tmp_path):
    write_tree(tmp_path, {"bun.lockb": "\x00binary", "mix.lock": "%{}", "notes.txt": "hi"})
    assert gap_codes(parse_one(tmp_path, "bun.lockb")[1]) == ["unsupported_lockfile"]
    assert "save-text-lockfile" in parse_one(tmp_path, "bun.lockb")[1][0].message
    assert gap_codes(parse_one(tmp_path, "mix.lock")[1]) == ["unsupported_lockfile"]
    assert gap_codes(parse_one(tmp_path, "notes.txt")[1]) == ["unsupported_lockfile"]
    assert gap_codes(parse_lockfile(tmp_path / "x", "../x")[1]) == ["unsafe_path"]


def test_undecodable_bytes_do_not_stop_parsing(tmp_path):
    (tmp_path / "requirements.txt").write_bytes(b"# caf\xe9 \xff\nrequests==2.31.0\n")
    comps, gaps = parse_one(tmp_path, "requirements.txt")
    assert list(comps) == ["pkg:pypi/requests@2.31.0"] and gaps == []


def test_a_100k_entry_package_lock_v3_works(tmp_path):
    n = 100_000
    parts = [
        '{\n  "name": "huge",\n  "lockfileVersion": 3,\n  "requires": true,\n  "packages": {\n'
    ]
    parts.append(
        '    "": {\n      "name": "huge",\n      "dependencies": {"pkg-0": "1.0.0"}\n    },\n'
    )
    integrity = "sha512-" + "A" * 86 + "=="
    for i in range(n):
        dep = f', "dependencies": {{"pkg-{i + 1}": "^1.0.0"}}' if i + 1 < n else ""
        parts.append(
            f'    "node_modules/pkg-{i}": {{"version": "1.0.{i % 50}", '
            f'"resolved": "https://registry.npmjs.org/pkg-{i}/-/pkg-{i}-1.0.{i % 50}.tgz", '
            f'"integrity": "{integrity}", "license": "MIT"{dep}}}' + (",\n" if i + 1 < n else "\n")
        )
    parts.append("  }\n}\n")
    (tmp_path / "package-lock.json").write_text("".join(parts))
    comps, gaps = parse_lockfile(tmp_path / "package-lock.json", "package-lock.json")
    assert gaps == []
    assert len(comps) == n
    by = {c.purl: c for c in comps}
    last = by[f"pkg:npm/pkg-{n - 1}@1.0.{(n - 1) % 50}"]
    assert last.line == n + 9
    assert by["pkg:npm/pkg-0@1.0.0"].dependencies == ("pkg:npm/pkg-1@1.0.1",)
    assert json.loads(json.dumps(by["pkg:npm/pkg-0@1.0.0"].hashes))[0][0] == "SHA-512"

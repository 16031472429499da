"""The fast paths give the same facts as the plain ones: process pool, prefilters, locators."""

from __future__ import annotations

import dataclasses
import json
import random

from audit_helpers import write_tree

from prodsprint_dagster.audit import audit_repository, code, engine, secrets
from prodsprint_dagster.audit.facts import MERGE, NOT_MERGED, Facts

_AWS = "AKIA" + "IOSFODNN7EXAMPLE"


def _mixed_tree() -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {
        "package.json": '{"dependencies": {"express": "4", "jest": "29"},'
        ' "scripts": {"start": "node server.js", "test": "jest"}}',
        "package-lock.json": '{"lockfileVersion": 3}',
        "server.js": "const port = process.env.PORT || 3000;\napp.listen(port);\n"
        "app.get('/healthz', ok);\nconst db = 'postgres://db:5432/app';\n",
        "Dockerfile": "FROM node:20\nEXPOSE 3000\nCMD node server.js\n",
        "docker-compose.yml": "services:\n  web:\n    build: .\n    ports: ['8080:3000']\n"
        "  cache:\n    image: redis:7\n",
        "k8s/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - name: api\n"
        "        image: api:1\n        env:\n        - name: TOKEN_TTL\n          value: '60'\n",
        "api/requirements.txt": "flask>=3\n",
        "api/app.py": "import os\nfrom flask import Flask\nKEY = os.environ.get('API_KEY')\n"
        "app.run(port=5000)\n",
        "api/package.json": '{"scripts": {"test": "vitest"}, "devDependencies": {"vitest": "1"}}',
        "api/settings.py": f"AWS_ACCESS_KEY_ID = '{_AWS}'\n",
        "api/alembic/versions/001_init.py": "revision = '1'\ndown_revision = None\n"
        "def upgrade():\n    op.create_table('t')\n\ndef downgrade():\n    op.drop_table('t')\n",
        "api/tests/test_app.py": "import unittest\n",
        "db/migrations/1_init.up.sql": "create table t();\n",
        "db/migrations/1_init.down.sql": "drop table t;\n",
        "broken.json": "{not json",
        ".env": "SECRET_KEY=abc\n",
        "bin.dat": b"\x00\x01",
        "raw.txt": b"caf\xe9\n",
        "big.txt": "x" * (1024 * 1024 + 1),
        ".github/workflows/ci.yml": "on: push\njobs: {}\n",
    }
    for i in range(60):
        files[f"svc{i % 3}/m{i}.go"] = (
            f'package m\nimport "os"\nfunc F{i}() string {{ return os.Getenv("GO_{i}") }}\n'
        )
        files[f"svc{i % 3}/w{i}.py"] = f"import os\nX = os.getenv('PY_{i % 7}', '{i}')\n"
    return files


def test_pool_gives_the_sequential_report(tmp_path, monkeypatch):
    root = write_tree(tmp_path / "repo", _mixed_tree())
    sequential = audit_repository(root, workers=1)
    audited = []
    real = engine._audit_in_pool

    def spy(*args, **kwargs):
        audited.append(real(*args, **kwargs))
        return audited[-1]

    monkeypatch.setattr(engine, "_audit_in_pool", spy)
    pooled = audit_repository(root, workers=2, pool_min_files=0)
    assert audited == [sequential["repo"]["files"]]  # the pool read every file
    assert json.dumps(pooled) == json.dumps(sequential)
    assert sequential["secrets"] and sequential["skipped"] and sequential["env_vars"]


def test_small_trees_stay_in_process(tmp_path, monkeypatch):
    root = write_tree(tmp_path / "repo", {"a.py": "import os\nos.getenv('A')\n"})
    monkeypatch.setattr(engine, "_audit_in_pool", lambda *a, **k: 1 / 0)
    assert audit_repository(root, workers=4)["env_vars"][0]["name"] == "A"


def test_every_fact_field_has_a_merge_rule():
    names = {f.name for f in dataclasses.fields(Facts)}
    assert set(MERGE) | NOT_MERGED == names
    assert not set(MERGE) & NOT_MERGED


def _per_line(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), 1) if secrets._may_hold_secret(line)]


def test_secret_locators_find_every_candidate_line():
    for lit in (*secrets._LITERALS, *secrets._WORDS):
        assert any(p.match(lit) for p in secrets._LOCATE_LOW), lit
    samples = [
        "",
        "plain\ntext\n",
        f"x = 1\nkey = '{_AWS}'\n\nurl = 'https://u:p@host'\n",
        "a\r\nPASSWORD = 'hunter2'\r\n",
        "İİ token\nxoxb-1\n",
        "sep\u2028ghp_abc\x85glpat-x\n",
        "12345678:" + "a" * 35 + "\n" + "b" * 32 + "-us1\n" + "M" + "c" * 24 + ".abcdef.x\n",
        "ACabcdefabcdefabcdefabcdefabcdefab\nSK" + "0" * 32 + "\nAKC0123456789\nAP1abcdefgh\n",
    ]
    rng = random.Random(7)
    alphabet = [*"abkeyAKSPC019:._-/@ \n\r\tİ", "pass", "akia", "://u:p@", "-us1", "sg."]
    samples += ["".join(rng.choice(alphabet) for _ in range(80)) for _ in range(3000)]
    for text in samples:
        assert secrets._candidate_lines(text)[1] == _per_line(text), repr(text)


def test_quick_checks_never_hide_a_match():
    """Each quick test is a necessary condition of the pattern it guards."""
    hits = {
        ("Python", 0): "uvicorn.run(app, host='0', port=8000)",
        ("Python", 1): "HTTPServer(('', 8080), H)",
        ("JavaScript", 0): "app.listen(3000)",
        ("JavaScript", 1): "app.listen({ port: 3000 })",
        ("JavaScript", 2): "export const PORT: number = 4000",
        ("Go", 0): 'http.ListenAndServe(":8080", nil)',
        ("Go", 1): 'Addr: ":9000"',
        ("Go", 2): 'PORT := "8080"',
    }
    for (lang, i), text in hits.items():
        assert code._PORT_LITERALS[lang][i].search(text), (lang, i)
        q = code._PORT_QUICK[lang][i]
        assert q in text if isinstance(q, str) else q.search(text), (lang, i)
    for text in ("import flask", "\n  from fastapi import X"):
        assert code._PY_IMPORT.search(text)
        assert any(q.search(text) for q in code._PY_IMPORT_QUICK)
    for text in ("'/healthz'", '"/api/v1/status/"', "`/up`"):
        assert code._HEALTH.search(text) and code._HEALTH_QUICK.search(text)
    for text in ("postgresql+psycopg://x", "x mongodb+srv://h", "jdbc:mysql://h", "redis:///0"):
        assert code._URL.search(text) and code._may_name_datastore(text)
    assert not code._may_name_datastore("see https://example.com and ftp://x")

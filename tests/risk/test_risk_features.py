"""The 14 Kamei features on a constructed history whose values are worked out by hand."""

import math

import pytest

from prodsprint_dagster.risk import KAMEI_FEATURES, mine_repository
from prodsprint_dagster.risk.features import entropy, split_path
from prodsprint_dagster.store import HistoryStore
from tests.risk.gitbuild import DAY, T0, Builder, lines

YEAR = 365.25


def H(*churns):
    total = sum(churns)
    return -sum(c / total * math.log2(c / total) for c in churns)


@pytest.fixture(scope="module")
def mined(tmp_path_factory):
    root = tmp_path_factory.mktemp("features")
    b = Builder(root / "repo")
    x = lines(10, "x")
    shas = {}
    shas["c1"] = b.commit({"a/x.py": x, "a/y.py": lines(5, "y"), "README.md": "# r\nhello\n"},
                          "Initial import", "alice", T0)  # fmt: skip
    x2 = x.replace("x 3\nx 4\n", "changed A\nchanged B\nchanged C\n")
    shas["c2"] = b.commit({"a/x.py": x2}, "Fix crash in parser", "bob", T0 + 2 * DAY)
    shas["c3"] = b.commit({"a/x.py": x2 + "x 10\n", "b/z.py": lines(4, "z")}, "Add z", "alice",
                          T0 + 5 * DAY)  # fmt: skip
    shas["c4"] = b.commit({"c/y.py": lines(5, "y") + "y 5\n"}, "Move y", "alice", T0 + 6 * DAY,
                          renames={"a/y.py": "c/y.py"})  # fmt: skip
    shas["c5"] = b.commit({"img/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00binary\x00"}, "Add logo",
                          "bob", T0 + 7 * DAY)  # fmt: skip
    shas["c6"] = b.commit({"README.md": "# r\nhello!\n"}, "Docs: typo", "carol", T0 + 8 * DAY)
    shas["c7"] = b.commit({"c/y.py": lines(5, "y") + "y 5\ny 6\n"}, "More y", "bob",
                          T0 + 9 * DAY)  # fmt: skip
    store = HistoryStore(root / "history.duckdb")
    mine_repository(store, "features", b.path)
    with store.connect(read_only=True) as con:
        rows = con.execute(
            f"SELECT sha, binary_files, {', '.join(KAMEI_FEATURES)} FROM commits"
        ).fetchall()
        files = con.execute(
            "SELECT sha, path, old_path, added, deleted, is_binary, lines_before FROM commit_files"
        ).fetchall()
    by_sha = {r[0]: dict(zip(("binary_files", *KAMEI_FEATURES), r[1:], strict=True)) for r in rows}
    return {name: by_sha[sha] for name, sha in shas.items()}, files, shas


EXPECTED = {
    "c1": dict(ns=2, nd=2, nf=3, entropy=H(10, 5, 2), la=17, ld=0, lt=0, fix=0, ndev=0, age=0.0,
               nuc=0, exp=0, rexp=0.0, sexp=0),
    "c2": dict(ns=1, nd=1, nf=1, entropy=0.0, la=3, ld=2, lt=10, fix=1, ndev=1, age=2.0, nuc=1,
               exp=0, rexp=0.0, sexp=0),
    "c3": dict(ns=2, nd=2, nf=2, entropy=H(1, 4), la=5, ld=0, lt=11, fix=0, ndev=2, age=3.0,
               nuc=2, exp=1, rexp=1 / (1 + 5 / YEAR), sexp=1),
    "c4": dict(ns=1, nd=1, nf=1, entropy=0.0, la=1, ld=0, lt=5, fix=0, ndev=1, age=6.0, nuc=1,
               exp=2, rexp=1 / (1 + 6 / YEAR) + 1 / (1 + 1 / YEAR), sexp=0),
    "c5": dict(ns=1, nd=1, nf=1, entropy=0.0, la=0, ld=0, lt=0, fix=0, ndev=0, age=0.0, nuc=0,
               exp=1, rexp=1 / (1 + 5 / YEAR), sexp=0),
    "c6": dict(ns=1, nd=1, nf=1, entropy=0.0, la=1, ld=1, lt=2, fix=0, ndev=1, age=8.0, nuc=1,
               exp=0, rexp=0.0, sexp=0),
    "c7": dict(ns=1, nd=1, nf=1, entropy=0.0, la=1, ld=0, lt=6, fix=0, ndev=1, age=3.0, nuc=2,
               exp=2, rexp=1 / (1 + 2 / YEAR) + 1 / (1 + 7 / YEAR), sexp=0),
}  # fmt: skip


@pytest.mark.parametrize("feature", KAMEI_FEATURES)
def test_each_feature_has_its_hand_computed_value(mined, feature):
    features, _, _ = mined
    for commit, expected in EXPECTED.items():
        assert features[commit][feature] == pytest.approx(expected[feature], abs=1e-9), (
            commit,
            feature,
        )


def test_renames_carry_history_and_binaries_count_no_lines(mined):
    features, files, shas = mined
    renamed = [f for f in files if f[0] == shas["c4"]]
    assert renamed == [(shas["c4"], "c/y.py", "a/y.py", 1, 0, False, 5)]
    binary = [f for f in files if f[0] == shas["c5"]]
    assert binary == [(shas["c5"], "img/logo.png", None, 0, 0, True, 0)]
    assert features["c5"]["binary_files"] == 1


def test_helpers():
    assert split_path("README.md") == ("", "")
    assert split_path("a/b/c.py") == ("a", "a/b")
    assert entropy([0, 0]) == 0.0
    assert entropy([3, 3]) == pytest.approx(1.0)

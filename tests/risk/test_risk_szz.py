"""SZZ on constructed histories: the right inducing commit, reverts, whitespace, comments."""

import pytest

from prodsprint_dagster.risk import label_repository, labelled_commits, mine_repository
from prodsprint_dagster.risk.messages import is_bot, read_message
from prodsprint_dagster.risk.szz import deleted_lines, is_meaningful
from prodsprint_dagster.store import HistoryStore
from tests.risk.gitbuild import DAY, T0, Builder

CALC = "def add(a, b):\n    return a + b\n\n\ndef div(a, b):\n    return a / b\n"


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    root = tmp_path_factory.mktemp("szz")
    b = Builder(root / "repo")
    c = {}
    c["base"] = b.commit({"src/calc.py": CALC, "notes.txt": "a\nb\n"}, "calculator", "alice", T0)
    c["bug"] = b.commit({"src/calc.py": CALC.replace("a + b", "a - b")}, "tidy add", "bob",
                        T0 + 1 * DAY)  # fmt: skip
    # Whitespace-only change of the div line plus a new comment line: never to be blamed.
    spaced = CALC.replace("a + b", "a - b").replace("    return a / b", "\treturn  a / b")
    spaced = spaced.replace("def div(a, b):\n", "def div(a, b):\n    # divide a by b\n")
    c["ws"] = b.commit({"src/calc.py": spaced}, "reformat div", "carol", T0 + 2 * DAY)
    fixed = CALC.replace("    return a / b", "    return a / b if b else 0")
    message = "Fix add returning the difference\n\nCloses #12"
    c["fix"] = b.commit({"src/calc.py": fixed, "notes.txt": "changed\n"}, message, "alice",
                        T0 + 3 * DAY)  # fmt: skip
    c["mul"] = b.commit({"src/mul.py": "def mul(a, b):\n    return a * b\n"}, "Add multiply",
                        "bob", T0 + 4 * DAY)  # fmt: skip
    c["revert"] = b.commit({"src/mul.py": None},
                           f'Revert "Add multiply"\n\nThis reverts commit {c["mul"]}.', "alice",
                           T0 + 5 * DAY)  # fmt: skip
    c["cites"] = b.commit({"README.md": "docs\n"},
                          f"Fix docs regression from {c['bug'][:10]} (see issue 1234567)",
                          "carol", T0 + 6 * DAY)  # fmt: skip
    c["late"] = b.commit({"src/late.py": "x = 1\n"}, "add late", "bob", T0 + 10 * DAY)
    # Clock skew: the fix claims a date before the commit it repairs; never a link.
    c["skewed"] = b.commit({"src/late.py": "x = 2\n"}, "fix late value", "alice", T0 + 9 * DAY)
    store = HistoryStore(root / "h.duckdb")
    mine_repository(store, "calc", b.path)
    summary = label_repository(store, "calc", b.path)
    with store.connect(read_only=True) as con:
        links = con.execute(
            "SELECT fix_sha, inducing_sha, source, path, lines FROM szz_links ORDER BY ALL"
        ).fetchall()
    return store, b, c, links, summary


def _links(history, fix):
    _, _, c, links, _ = history
    names = {sha: name for name, sha in c.items()}
    return sorted((names[i], src, n) for f, i, src, _path, n in links if f == c[fix])


def test_blame_finds_the_inducing_commit_and_ignores_whitespace_and_comments(history):
    # `return a - b` came from "bug"; the div line was only re-indented by "ws", so blame -w
    # names "base"; the deleted comment line and notes.txt (not source) are ignored.
    assert _links(history, "fix") == [("base", "blame", 1), ("bug", "blame", 1)]


def test_revert_labels_the_reverted_commit_only(history):
    assert _links(history, "revert") == [("mul", "revert", 0)]


def test_cited_sha_resolves_to_a_mined_commit_and_numbers_are_not_shas(history):
    assert _links(history, "cites") == [("bug", "cited", 0)]


def test_inducing_commits_must_predate_the_fix(history):
    assert _links(history, "skewed") == []


def test_labels_and_incremental_labelling(history):
    store, b, c, _, summary = history
    assert summary["fixes_analysed"] == 4  # fix, revert, cites, skewed
    frame = labelled_commits(store, repos=["calc"]).set_index("sha")
    assert frame.loc[c["bug"], "label"] == 1
    assert set(frame.loc[c["bug"], "label_source"].split(",")) == {"blame", "cited"}
    assert frame.loc[c["mul"], "label_source"] == "revert"
    assert frame.loc[c["ws"], "label"] == 0 and frame.loc[c["late"], "label"] == 0
    again = label_repository(store, "calc", b.path)
    assert again["fixes_analysed"] == 0 and again["links"] == 0
    # Labels as known before the fix was committed: none yet.
    early = labelled_commits(store, repos=["calc"], known_at=T0 + 2 * DAY).set_index("sha")
    assert early.loc[c["bug"], "label"] == 0


def test_message_facts():
    assert read_message("Fix crash on empty cart").is_fix
    assert read_message("Closes #42").is_fix
    assert not read_message("Add prefix option").is_fix
    assert not read_message("Update suffix handling").is_fix
    facts = read_message('Revert "x"\n\nThis reverts commit ABCDEF1234567.')
    assert facts.is_revert and facts.reverts == "abcdef1234567"
    assert read_message("bugfix: 1234567 and deadbee1").cited == ("deadbee1",)
    assert is_bot("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
    assert is_bot("Renovate Bot", "bot@renovateapp.com")
    assert not is_bot("Bob Okafor", "bob@example.test")


def test_deleted_lines_parser_reads_counts_not_prefixes():
    patch = (
        b"diff --git a/q.sql b/q.sql\n--- a/q.sql\n+++ b/q.sql\n"
        b"@@ -2,2 +2,1 @@\n--- comment line\n-SELECT 1;\n+SELECT 2;\n"
        b'diff --git "a/t\\tab.py" "b/t\\tab.py"\n--- "a/t\\tab.py"\n+++ "b/t\\tab.py"\n'
        b"@@ -5 +5 @@\n-x = 1\n+x = 2\n"
    )
    assert deleted_lines(patch) == {"q.sql": [3], "t\tab.py": [5]}
    assert not is_meaningful("   ", "a.py")
    assert not is_meaningful("  // note", "a.go")
    assert is_meaningful("#include <x.h>", "a.c")
    assert not is_meaningful('"""doc"""', "a.py")

"""Licence normalization, categories and policy verdicts."""

from __future__ import annotations

import pytest
from osv_fixtures import component

from prodsprint_dagster.policy import load_pack
from prodsprint_dagster.supply.licences import (
    DEFAULT_POLICY,
    LicencePolicyError,
    licence_report,
    normalize_licence,
)


def _row(declared, policy=None, **kw):
    comp = component("PyPI", "pkg", "1.0", licenses=tuple(declared), **kw)
    report = licence_report([comp], policy)
    return report["components"][0], report


@pytest.mark.parametrize(
    ("declared", "spdx", "category", "verdict"),
    [
        ("MIT OR GPL-3.0-only", "MIT OR GPL-3.0-only", "permissive", "allowed"),
        ("Apache-2.0 AND BSD-3-Clause", "Apache-2.0 AND BSD-3-Clause", "permissive", "allowed"),
        ("GPL-2.0-or-later WITH Classpath-exception-2.0",
         "GPL-2.0-or-later WITH Classpath-exception-2.0", "weak-copyleft", "allowed"),
        ("MIT License", "MIT", "permissive", "allowed"),
        ("License :: OSI Approved :: MIT License", "MIT", "permissive", "allowed"),
        ("Apache 2.0", "Apache-2.0", "permissive", "allowed"),
        ("mit", "MIT", "permissive", "allowed"),
        ("GPL-2.0", "GPL-2.0-only", "strong-copyleft", "review"),
        ("GPL-3.0-only AND MIT", "GPL-3.0-only AND MIT", "strong-copyleft", "review"),
        ("LGPL-2.1-or-later", "LGPL-2.1-or-later", "weak-copyleft", "allowed"),
        ("MPL-2.0", "MPL-2.0", "weak-copyleft", "allowed"),
        ("AGPL-3.0-or-later", "AGPL-3.0-or-later", "network-copyleft", "denied"),
        ("SSPL-1.0", "SSPL-1.0", "network-copyleft", "denied"),
        ("MIT OR AGPL-3.0-only", "MIT OR AGPL-3.0-only", "permissive", "allowed"),
        ("MIT AND AGPL-3.0-only", "MIT AND AGPL-3.0-only", "network-copyleft", "denied"),
        ("BUSL-1.1", "BUSL-1.1", "proprietary", "review"),
        ("UNLICENSED", None, "proprietary", "review"),
        ("Acme Corp Internal Licence", None, "unknown", "unknown"),
        ("LicenseRef-Acme", "LicenseRef-Acme", "unknown", "unknown"),
        ("MIT/X11 +", None, "unknown", "unknown"),
    ],
)  # fmt: skip
def test_expressions_with_default_policy(declared, spdx, category, verdict):
    row, report = _row([declared])
    assert (row["spdx"], row["category"], row["verdict"]) == (spdx, category, verdict)
    assert report["verdict"] == ("fail" if verdict == "denied" else "pass")


def test_family_names_are_not_guessed_but_judged_as_their_worst_member():
    row, _ = _row(["BSD"])
    assert (row["spdx"], row["category"], row["verdict"]) == (None, "permissive", "allowed")
    assert "does not say which version" in row["notes"][0]
    row, _ = _row(["License :: OSI Approved :: GNU General Public License (GPL)"])
    assert (row["spdx"], row["category"], row["verdict"]) == (None, "strong-copyleft", "review")
    strict = {"allow": ["BSD-3-Clause"]}  # BSD-2-Clause is a BSD too, and is now unlisted
    assert _row(["BSD"], strict)[0]["verdict"] == "review"


def test_no_licence_is_unknown_never_guessed():
    row, report = _row([])
    assert (row["spdx"], row["category"], row["verdict"]) == (None, "unknown", "unknown")
    assert report["verdict"] == "pass"  # unknown = review by default: reported, not blocking
    row, report = _row([], {"unknown": "deny"})
    assert row["verdict"] == "denied" and report["verdict"] == "fail"


def test_several_declared_licences_are_all_required_except_in_composer_lock():
    row, _ = _row(["MIT", "GPL-3.0-only"])
    assert (row["spdx"], row["verdict"]) == ("MIT AND GPL-3.0-only", "review")
    row, _ = _row(["MIT", "GPL-3.0-only"], source="composer.lock")
    assert (row["spdx"], row["verdict"]) == ("MIT OR GPL-3.0-only", "allowed")


def test_policy_lists_and_rules():
    policy = {"deny": ["MIT"], "allow": ["GPL-3.0-only", "Apache-2.0"],
              "copyleft": {"strong": "deny", "weak": "review"}, "unknown": "allow"}  # fmt: skip
    assert _row(["MIT"], policy)[0]["verdict"] == "denied"  # deny wins over the category
    assert _row(["GPL-3.0-only"], policy)[0]["verdict"] == "allowed"  # explicit allow
    assert _row(["GPL-2.0-only"], policy)[0]["verdict"] == "denied"
    assert _row(["LGPL-3.0-only"], policy)[0]["verdict"] == "review"
    assert _row(["ISC"], policy)[0]["verdict"] == "review"  # permissive, not on the allow list
    assert _row(["LicenseRef-Foo"], policy)[0]["verdict"] == "allowed"
    assert _row(["MIT OR Apache-2.0"], policy)[0]["verdict"] == "allowed"
    # An exception does not rescue a licence that is itself denied.
    assert (
        _row(["GPL-2.0-only WITH Classpath-exception-2.0"], {"deny": ["GPL-2.0-only"]})[0][
            "verdict"
        ]
        == "denied"
    )


@pytest.mark.parametrize(
    ("policy", "message"),
    [({"allow": "MIT"}, "licences.allow"),
     ({"copyleft": {"strong": "maybe"}}, "copyleft.strong"),
     ({"copyleft": {"viral": "deny"}}, "copyleft.viral"),
     ({"unknown": "ignore"}, "licences.unknown"),
     ({"alow": ["MIT"]}, "alow")],
)  # fmt: skip
def test_malformed_policy_names_the_key(policy, message):
    with pytest.raises(LicencePolicyError, match=message):
        licence_report([], policy)


def test_summary_and_order():
    comps = [component("npm", "a", "1", licenses=("MIT",)),
             component("npm", "b", "1", licenses=("AGPL-3.0-only",)),
             component("npm", "c", "1", licenses=("GPL-3.0-only",)),
             component("npm", "d", "1")]  # fmt: skip
    report = licence_report(comps, {})
    assert [r["package"] for r in report["components"]] == ["b", "c", "d", "a"]
    assert report["summary"]["by_verdict"] == {"allowed": 1, "denied": 1, "review": 1,
                                               "unknown": 1}  # fmt: skip
    assert report["summary"]["by_category"]["network-copyleft"] == 1
    assert report["verdict"] == "fail"
    assert [d["package"] for d in report["denied"]] == ["b"]
    assert report["components"][0]["purl"] == "pkg:npm/b@1"


def test_default_pack_carries_the_licence_policy():
    settings = load_pack("default").settings["licences"]
    assert sorted(settings["allow"]) == sorted(DEFAULT_POLICY["allow"])
    assert settings["copyleft"] == {"weak": "allow", "strong": "review", "network": "deny"}
    assert licence_report([], settings)["policy"]["unknown"] == "review"


def test_normalization_is_cached_and_stable():
    assert normalize_licence("Apache License, Version 2.0").spdx == "Apache-2.0"
    assert normalize_licence("apache-2.0 or mit").spdx == "Apache-2.0 OR MIT"
    assert normalize_licence("GPL-2.0+").spdx == "GPL-2.0-or-later"

"""Licence verdicts: declared licences normalized to SPDX, sorted into categories, judged by policy.

Normalizing: SPDX expressions go through ``license-expression`` (which also fixes case and
deprecated ids such as ``GPL-2.0`` -> ``GPL-2.0-only``); the usual non-SPDX spellings ("MIT
License", "Apache 2.0", trove classifiers such as ``License :: OSI Approved :: MIT License``)
are mapped through a table first. A spelling that names a family without its version or
variant ("BSD", "GPL", "Apache Software License") is not guessed to one id: it is judged as the
worst of the family's members and reported with ``spdx: None`` and a note. Anything else is
``unknown``.

Judging one licence id: the ``deny`` list wins, then the ``allow`` list, then the category's
rule (``copyleft`` per copyleft category, ``proprietary``; a permissive licence that the
allow list leaves out goes to review), and ``unknown`` for licences of no known category.
``A OR B``: the best option satisfies. ``A AND B``: every part must pass (the worst counts).
``X WITH <linking exception>`` on a strong copyleft licence is weak copyleft. Several declared
licences on one component are read as AND (conservative), except for composer.lock, whose
format defines a list as a choice (OR). Only ``denied`` fails the report.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from license_expression import (
    AND,
    OR,
    ExpressionError,
    LicenseSymbol,
    LicenseWithExceptionSymbol,
    get_spdx_licensing,
)

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.supply.model import Component

CATEGORIES = (
    "permissive",
    "weak-copyleft",
    "strong-copyleft",
    "network-copyleft",
    "proprietary",
    "unknown",
)
VERDICTS = ("allowed", "denied", "review", "unknown")

_PERMISSIVE = (
    "0BSD", "AFL-2.1", "AFL-3.0", "Apache-1.1", "Apache-2.0", "Artistic-2.0", "BlueOak-1.0.0",
    "BSD-1-Clause", "BSD-2-Clause", "BSD-2-Clause-Views", "BSD-3-Clause", "BSD-3-Clause-Clear",
    "BSD-4-Clause", "BSL-1.0", "CC-BY-3.0", "CC-BY-4.0", "CC0-1.0", "curl", "HPND", "ISC",
    "MIT", "MIT-0", "MIT-CMU", "MulanPSL-2.0", "NCSA", "OpenSSL", "PostgreSQL", "PSF-2.0",
    "Python-2.0", "Ruby", "Unicode-3.0", "Unicode-DFS-2016", "Unlicense", "UPL-1.0", "W3C",
    "WTFPL", "X11", "Zlib", "ZPL-2.1",
)  # fmt: skip
_WEAK = (
    "CDDL-1.0", "CDDL-1.1", "CPL-1.0", "EPL-1.0", "EPL-2.0", "LGPL-2.0-only", "LGPL-2.0-or-later",
    "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later", "MPL-1.1",
    "MPL-2.0", "MPL-2.0-no-copyleft-exception", "MS-RL",
)  # fmt: skip
_STRONG = (
    "CC-BY-SA-3.0", "CC-BY-SA-4.0", "EUPL-1.1", "EUPL-1.2", "GPL-1.0-only", "GPL-1.0-or-later",
    "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later", "Sleepycat",
)  # fmt: skip
_NETWORK = (
    "AGPL-1.0-only", "AGPL-1.0-or-later", "AGPL-3.0-only", "AGPL-3.0-or-later", "OSL-3.0",
    "RPL-1.5", "SSPL-1.0",
)  # fmt: skip
_PROPRIETARY = ("BUSL-1.1", "Elastic-2.0")  # source-available, not open source
CATEGORY_OF: dict[str, str] = {
    **dict.fromkeys(_PERMISSIVE, "permissive"),
    **dict.fromkeys(_WEAK, "weak-copyleft"),
    **dict.fromkeys(_STRONG, "strong-copyleft"),
    **dict.fromkeys(_NETWORK, "network-copyleft"),
    **dict.fromkeys(_PROPRIETARY, "proprietary"),
}
# Exceptions that allow linking without the copyleft reaching the linking program.
_LINKING_EXCEPTIONS = frozenset({
    "Autoconf-exception-2.0", "Autoconf-exception-3.0", "Bison-exception-2.2",
    "Classpath-exception-2.0", "eCos-exception-2.0", "FLTK-exception", "Font-exception-2.0",
    "GCC-exception-2.0", "GCC-exception-3.1", "LGPL-3.0-linking-exception", "LLVM-exception",
    "Linux-syscall-note", "OpenJDK-assembly-exception-1.0", "Universal-FOSS-exception-1.0",
    "WxWindows-exception-3.1",
})  # fmt: skip

# Non-SPDX spellings (lower-cased, spaces collapsed) -> SPDX id.
_ALIASES = {
    "mit license": "MIT", "the mit license": "MIT", "mit license (mit)": "MIT", "expat": "MIT",
    "apache 2.0": "Apache-2.0", "apache 2": "Apache-2.0", "apache-2": "Apache-2.0",
    "apache2": "Apache-2.0", "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0", "apache license version 2.0": "Apache-2.0",
    "apache software license 2.0": "Apache-2.0", "asl 2.0": "Apache-2.0",
    "apache software license (apache-2.0)": "Apache-2.0",
    "new bsd": "BSD-3-Clause", "new bsd license": "BSD-3-Clause", "bsd 3-clause": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause", "modified bsd": "BSD-3-Clause", "3-clause bsd": "BSD-3-Clause",
    "bsd 3-clause license": "BSD-3-Clause", "revised bsd": "BSD-3-Clause",
    "simplified bsd": "BSD-2-Clause", "bsd 2-clause": "BSD-2-Clause", "bsd-2": "BSD-2-Clause",
    "freebsd": "BSD-2-Clause", "2-clause bsd": "BSD-2-Clause",
    "isc license (iscl)": "ISC", "isc license": "ISC",
    "python software foundation license": "PSF-2.0", "psf": "PSF-2.0", "psfl": "PSF-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0", "mpl 2.0": "MPL-2.0",
    "mozilla public license 2.0": "MPL-2.0", "mozilla public license 1.1 (mpl 1.1)": "MPL-1.1",
    "gnu general public license v2 (gplv2)": "GPL-2.0-only", "gplv2": "GPL-2.0-only",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0-or-later",
    "gplv2+": "GPL-2.0-or-later", "gnu general public license v3 (gplv3)": "GPL-3.0-only",
    "gplv3": "GPL-3.0-only", "gnu general public license v3 or later (gplv3+)": "GPL-3.0-or-later",
    "gplv3+": "GPL-3.0-or-later",
    "gnu lesser general public license v2 (lgplv2)": "LGPL-2.0-only",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.0-or-later",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only", "lgplv3": "LGPL-3.0-only",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "lgplv2.1": "LGPL-2.1-only", "lgplv3+": "LGPL-3.0-or-later",
    "gnu affero general public license v3": "AGPL-3.0-only", "agplv3": "AGPL-3.0-only",
    "gnu affero general public license v3 or later (agplv3+)": "AGPL-3.0-or-later",
    "eclipse public license 1.0": "EPL-1.0", "eclipse public license 2.0": "EPL-2.0",
    "eclipse public license 2.0 (epl-2.0)": "EPL-2.0", "the unlicense (unlicense)": "Unlicense",
    "the unlicense": "Unlicense", "zlib/libpng license": "Zlib", "zlib license": "Zlib",
    "boost software license 1.0 (bsl-1.0)": "BSL-1.0", "boost software license 1.0": "BSL-1.0",
    "cc0 1.0 universal (cc0 1.0) public domain dedication": "CC0-1.0", "cc0": "CC0-1.0",
    "european union public licence 1.2 (eupl 1.2)": "EUPL-1.2",
    "server side public license": "SSPL-1.0", "sspl": "SSPL-1.0",
    "universal permissive license (upl)": "UPL-1.0", "historical permission notice and "
    "disclaimer (hpnd)": "HPND", "artistic license 2.0": "Artistic-2.0",
}  # fmt: skip
# Family names that do not say which member: judged as the worst member, never guessed.
_FAMILIES = {
    "bsd": ("BSD-2-Clause", "BSD-3-Clause"),
    "bsd license": ("BSD-2-Clause", "BSD-3-Clause"),
    "apache": ("Apache-1.1", "Apache-2.0"),
    "apache software license": ("Apache-1.1", "Apache-2.0"),
    "apache license": ("Apache-1.1", "Apache-2.0"),
    "gpl": ("GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later"),
    "gnu general public license (gpl)": (
        "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later",
    ),
    "lgpl": ("LGPL-2.0-only", "LGPL-2.1-only", "LGPL-3.0-only"),
    "gnu library or lesser general public license (lgpl)": (
        "LGPL-2.0-only", "LGPL-2.1-only", "LGPL-3.0-only",
    ),
    "gnu lesser general public license (lgpl)": (
        "LGPL-2.0-only", "LGPL-2.1-only", "LGPL-3.0-only",
    ),
    "agpl": ("AGPL-3.0-only", "AGPL-3.0-or-later"),
    "mpl": ("MPL-1.1", "MPL-2.0"),
    "mozilla public license": ("MPL-1.1", "MPL-2.0"),
    "epl": ("EPL-1.0", "EPL-2.0"),
}  # fmt: skip
# Statements that a package is not open source at all.
_PROPRIETARY_WORDS = frozenset({
    "unlicensed", "proprietary", "commercial", "all rights reserved",
    "other/proprietary license", "proprietary license",
})  # fmt: skip

DEFAULT_POLICY: dict[str, Any] = {
    "allow": list(_PERMISSIVE),
    "deny": [],
    "copyleft": {"weak": "allow", "strong": "review", "network": "deny"},
    "proprietary": "review",
    "unknown": "review",
}
_RULE_VERDICT = {"allow": "allowed", "review": "review", "deny": "denied"}
# Best first for OR; AND takes the last.
_VERDICT_ORDER = {"allowed": 3, "review": 2, "unknown": 1, "denied": 0}
_RESTRICTIVE = {c: i for i, c in enumerate(CATEGORIES)}


class LicencePolicyError(ProdSprintError):
    """The ``licences`` settings of a policy pack are malformed."""


def _normalize_policy(policy: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = {**DEFAULT_POLICY, **(policy or {})}
    for key in ("allow", "deny"):
        value = merged[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise LicencePolicyError(f"licences.{key}: expected a list of SPDX licence ids")
    copyleft = {**DEFAULT_POLICY["copyleft"], **(merged.get("copyleft") or {})}
    if not isinstance(merged.get("copyleft") or {}, dict):
        raise LicencePolicyError("licences.copyleft: expected a mapping weak/strong/network")
    for kind, rule in copyleft.items():
        if kind not in ("weak", "strong", "network"):
            raise LicencePolicyError(
                f"licences.copyleft.{kind}: unknown category (weak, strong or network)"
            )
        if rule not in _RULE_VERDICT:
            raise LicencePolicyError(
                f"licences.copyleft.{kind}: {rule!r} is not one of allow, review, deny"
            )
    for key in ("proprietary", "unknown"):
        if merged[key] not in _RULE_VERDICT:
            raise LicencePolicyError(
                f"licences.{key}: {merged[key]!r} is not one of allow, review, deny"
            )
    unknown_keys = set(merged) - set(DEFAULT_POLICY)
    if unknown_keys:
        raise LicencePolicyError(
            f"licences: unknown setting(s) {', '.join(sorted(unknown_keys))} (known: "
            f"{', '.join(DEFAULT_POLICY)})"
        )
    return {
        "allow": sorted({_canonical_id(v) for v in merged["allow"]}),
        "deny": sorted({_canonical_id(v) for v in merged["deny"]}),
        "copyleft": copyleft,
        "proprietary": merged["proprietary"],
        "unknown": merged["unknown"],
    }


@functools.cache
def _licensing() -> Any:
    return get_spdx_licensing()


@functools.lru_cache(maxsize=4096)
def _parsed(expression: str) -> Any:
    return _licensing().parse(expression)


def _canonical_id(text: str) -> str:
    """An SPDX id as license-expression spells it (``gpl-2.0`` -> ``GPL-2.0-only``)."""
    try:
        return str(_licensing().parse(text.strip()))
    except ExpressionError:
        return text.strip()


@dataclass(frozen=True)
class _Judged:
    verdict: str
    category: str
    reason: str


def _order(judged: _Judged) -> tuple[int, int]:
    """Better verdict first; between equal verdicts, the less restrictive category."""
    return (_VERDICT_ORDER[judged.verdict], -_RESTRICTIVE[judged.category])


class _Judge:
    def __init__(self, policy: dict[str, Any]):
        self.policy = policy
        self.allow = set(policy["allow"])
        self.deny = set(policy["deny"])

    def category_rule(self, category: str) -> str:
        if category in ("weak-copyleft", "strong-copyleft", "network-copyleft"):
            return self.policy["copyleft"][category.split("-")[0]]
        if category == "proprietary":
            return self.policy["proprietary"]
        if category == "unknown":
            return self.policy["unknown"]
        return "review"  # permissive but left out of the allow list

    def one(self, spdx_id: str, category: str | None = None) -> _Judged:
        category = category or CATEGORY_OF.get(spdx_id, "unknown")
        if spdx_id in self.deny:
            return _Judged("denied", category, f"{spdx_id} is on the deny list")
        if spdx_id in self.allow:
            return _Judged("allowed", category, f"{spdx_id} is on the allow list")
        rule = self.category_rule(category)
        verdict = _RULE_VERDICT[rule]
        if category == "unknown" and verdict == "review":
            verdict = "unknown"
        return _Judged(verdict, category, f"{spdx_id}: {category} (policy: {rule})")

    def node(self, node: Any) -> _Judged:
        if isinstance(node, LicenseWithExceptionSymbol):
            base, exception = node.license_symbol.key, node.exception_symbol.key
            full = f"{base} WITH {exception}"
            category = CATEGORY_OF.get(base, "unknown")
            if category == "strong-copyleft" and exception in _LINKING_EXCEPTIONS:
                category = "weak-copyleft"
            if full not in self.allow and full not in self.deny:
                if base in self.deny:
                    return _Judged("denied", category, f"{base} is on the deny list")
                if base in self.allow:
                    return _Judged("allowed", category, f"{base} is on the allow list")
            return self.one(full, category)
        if isinstance(node, LicenseSymbol):
            return self.one(node.key)
        parts = [self.node(arg) for arg in node.args]
        if isinstance(node, OR):
            return max(parts, key=_order)
        if isinstance(node, AND):
            return min(parts, key=_order)
        return _Judged("unknown", "unknown", f"unsupported expression {node}")


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


@dataclass(frozen=True)
class Normalized:
    """One declared licence string read: an SPDX expression, a family, or nothing known."""

    spdx: str | None
    family: tuple[str, ...] = ()
    proprietary: bool = False
    note: str = ""


@functools.lru_cache(maxsize=4096)
def normalize_licence(declared: str) -> Normalized:
    """Map one declared licence (SPDX expression, common spelling, classifier) to SPDX."""
    text = declared.strip()
    if text.lower().startswith("license ::"):
        text = text.split("::")[-1].strip()
        if text.lower() in ("osi approved", ""):
            return Normalized(None, note=f"{declared!r} names no licence")
    key = _key(text)
    if key in _ALIASES:
        return Normalized(_ALIASES[key])
    if key in _FAMILIES:
        return Normalized(
            None, _FAMILIES[key], note=f"{text!r} does not say which version or variant"
        )
    if key in _PROPRIETARY_WORDS:
        return Normalized(None, proprietary=True, note=f"{text!r}: not an open source licence")
    if key.startswith("see license in") or key.startswith("see licence in"):
        return Normalized(None, note=f"{text!r}: licence in a file, not read")
    try:
        parsed = _licensing().parse(text)
    except ExpressionError:
        return Normalized(None, note=f"{text!r} is not an SPDX expression")
    if parsed is None:
        return Normalized(None)
    unknown = [
        k
        for k in _licensing().unknown_license_keys(parsed)
        if not k.startswith(("LicenseRef-", "DocumentRef-"))
    ]
    if unknown:
        return Normalized(None, note=f"unknown licence id(s): {', '.join(unknown)}")
    return Normalized(str(parsed))


def _combine(parts: list[Normalized], choice: bool) -> tuple[str | None, list[str]]:
    """The component's SPDX expression from several declared licences (AND, or OR for
    formats where a list is a choice); None when any part is not SPDX."""
    notes = [p.note for p in parts if p.note]
    if not parts or any(p.spdx is None for p in parts):
        return None, notes
    unique = list(dict.fromkeys(p.spdx for p in parts))
    if len(unique) == 1:
        return unique[0], notes
    joiner = " OR " if choice else " AND "
    expression = joiner.join(f"({s})" if " " in s else s for s in unique)
    return str(_licensing().parse(expression)), notes


def _judge_component(judge: _Judge, parts: list[Normalized], choice: bool) -> _Judged:
    if not parts:
        verdict = _RULE_VERDICT[judge.policy["unknown"]]
        return _Judged(
            "unknown" if verdict == "review" else verdict, "unknown", "no licence declared"
        )
    judged = []
    for part in parts:
        if part.spdx is not None:
            judged.append(judge.node(_parsed(part.spdx)))
        elif part.family:
            members = [judge.one(m) for m in part.family]
            worst = min(members, key=_order)
            judged.append(
                _Judged(worst.verdict, worst.category, f"{part.note}; judged as {worst.reason}")
            )
        elif part.proprietary:
            rule = judge.policy["proprietary"]
            judged.append(
                _Judged(_RULE_VERDICT[rule], "proprietary", f"{part.note} (policy: {rule})")
            )
        else:
            rule = judge.policy["unknown"]
            verdict = _RULE_VERDICT[rule]
            reason = f"{part.note or 'unknown licence'} (policy: {rule})"
            judged.append(_Judged("unknown" if verdict == "review" else verdict, "unknown", reason))
    return max(judged, key=_order) if choice else min(judged, key=_order)


def licence_report(components: Iterable[Component], policy: Mapping[str, Any] | None) -> dict:
    """Every component's licence, category and verdict, a summary, and pass/fail.

    ``policy`` is the pack's ``settings.licences`` block (None or {} for the defaults)."""
    effective = _normalize_policy(policy)
    judge = _Judge(effective)
    rows = []
    for component in components:
        declared = [d for d in component.licenses if isinstance(d, str) and d.strip()]
        parts = [normalize_licence(d) for d in dict.fromkeys(declared)]
        choice = component.source.rsplit("/", 1)[-1] == "composer.lock"
        spdx, notes = _combine(parts, choice)
        judged = _judge_component(judge, parts, choice)
        rows.append({
            "purl": component.purl,
            "package": component.name,
            "version": component.version,
            "ecosystem": component.ecosystem,
            "declared": declared,
            "spdx": spdx,
            "category": judged.category,
            "verdict": judged.verdict,
            "reason": judged.reason,
            "notes": notes,
        })  # fmt: skip
    rows.sort(key=lambda r: (-{"denied": 3, "review": 2, "unknown": 1}.get(r["verdict"], 0),
                             r["package"].lower(), r["version"] or ""))  # fmt: skip
    by_category = dict.fromkeys(CATEGORIES, 0)
    by_verdict = dict.fromkeys(VERDICTS, 0)
    for row in rows:
        by_category[row["category"]] += 1
        by_verdict[row["verdict"]] += 1
    return {
        "verdict": "fail" if by_verdict["denied"] else "pass",
        "components": rows,
        "summary": {"by_category": by_category, "by_verdict": by_verdict, "total": len(rows)},
        "denied": [
            {
                "package": r["package"],
                "version": r["version"],
                "purl": r["purl"],
                "spdx": r["spdx"],
                "reason": r["reason"],
            }
            for r in rows
            if r["verdict"] == "denied"
        ],
        "policy": effective,
    }

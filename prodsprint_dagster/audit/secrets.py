"""Committed secrets, found by detect-secrets and reported without their values.

detect-secrets is the scanner: its plugins find the secrets and its filters drop the false
positives. Its per-line Python is slow, so it sees only the lines where a cheap prefilter (the
plugins' literal prefixes, detect-secrets' own keyword list, a few shapes) says a plugin could
fire, each with the same file name and surrounding context it would get from ``scan_file``.
That loop mirrors ``detect_secrets.core.scan._process_line_based_plugins`` (hence the pin to
detect-secrets 1.5.x in pyproject). The
high-entropy and IP-address plugins are left out: in source trees they flag hashes, ids and
test data far more often than secrets, and they would force every file through the slow path.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.core.scan import _is_filtered_out, _scan_line, get_plugins
from detect_secrets.plugins.keyword import DENYLIST
from detect_secrets.settings import transient_settings
from detect_secrets.util.code_snippet import get_code_snippet

_log = logging.getLogger(__name__)

_EXCLUDED_PLUGINS = frozenset(
    {"Base64HighEntropyString", "HexHighEntropyString", "IPPublicDetector"}
)
# Values that are obviously placeholders in examples and templates, not secrets.
_PLACEHOLDER = re.compile(
    r"(?i)^(change[-_]?me|changeit|example|placeholder|dummy|test|secret|password|pass|xxx+|"
    r"\*+|<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\}|your[-_]\w*|replace[-_]?me|todo|none|null|)$"
)
# The prefilter, over the lower-cased text: every default plugin's pattern needs one of these
# literals, the keyword regex (built from detect-secrets' own list) or one of the shapes below.
# Literals are tested with ``in``: far faster than a regex alternation of them.
_LITERALS = (
    "akia", "asia", "abia", "acca", "a3t", "eyj", "xox", "hooks.slack", "ghp_", "gho_", "ghu_",
    "ghs_", "ghr_", "glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "gr1348941", "glcbt-",
    "t3blbkfj", "pypi-", "sg.", "sq0csp-", "_live_", "accountkey=", "private key", "_authtoken",
)  # fmt: skip
_WORDS = ("key", "pw", "pass", "token", "secret", "contrase")
_KEYWORDS = re.compile(
    "|".join(DENYLIST)
    + r"|(?:cloudant|clou|cl|ibm|iam|cloud|cos|hmac|softlayer|sl)[_-]?(?:api)?[_-]?"
    r"(?:key|pwd|pw|pass|token)|aws.{0,20}?(?:key|pwd|pw|pass|token)"
)
_BASIC_AUTH = re.compile(r"://[^\s/@:]+:[^\s/@]+@")
# Token shapes of plugins without a literal prefix. Each is tried only when a literal it cannot
# match without is present: a leading class such as [0-9a-z]{32} would otherwise be attempted
# at nearly every position of every file.
_SHAPES = (
    ("AKC", re.compile(r"AKC[a-zA-Z0-9]{10}")),
    ("AP", re.compile(r"AP[\dA-F][a-zA-Z0-9]{8}")),
    ("AC", re.compile(r"AC[a-z0-9]{32}")),
    ("SK", re.compile(r"SK[a-z0-9]{32}")),
    (":", re.compile(r"\d{8,10}:[\w-]{35}")),
    (".", re.compile(r"[MNO][\w-]{23,25}\.[\w-]{6}\.")),
    ("-us", re.compile(r"[0-9a-z]{32}-us\d")),
)
# Locators, run once over the whole text, of every place where a line can pass the prefilter:
# each literal and word occurrence, each basic-auth URL, and for each shape a pattern that
# matches wherever the shape does (a leading class is checked by a look-behind after the
# literal, which the regex engine finds far faster). Only the lines they point at get the
# exact per-line test.
# On the lower-cased text; literals sharing a start share a pass (one pass per literal costs
# more than the regex engine's search for a literal start followed by a few alternatives).
_LOCATE_LOW = tuple(
    re.compile(p)
    for p in (
        r"a(?:kia|sia|bia|cca|3t|ccountkey=)",
        r"gh[pousr]_",
        r"gl(?:pat|dt|ft|soat|rt|cbt)-",
        r"_(?:live_|authtoken)",
        *(
            re.escape(lit)
            for lit in (*_LITERALS, *_WORDS)
            if not lit.startswith(("a", "gh", "gl", "_live_", "_authtoken"))
        ),
    )
)
_LOCATE_SHAPES = (
    _SHAPES[0][1],
    _SHAPES[1][1],
    _SHAPES[2][1],
    _SHAPES[3][1],
    re.compile(r":(?<=\d{8}:)[\w-]{35}"),
    re.compile(r"\.[\w-]{6}\."),
    re.compile(r"-us(?<=[0-9a-z]{32}-us)\d"),
)
# str.splitlines() ends lines at these too; with any of them present, lines are tested one by one.
_OTHER_BREAKS = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
_TEST_PATH = re.compile(r"(^|/)(tests?|spec|specs|__tests__|fixtures?|testdata|examples?)(/|$)")


@contextlib.contextmanager
def scanner() -> Iterator[re.Pattern[str]]:
    """detect-secrets configured for the audit, and the prefilter for ``scan``."""
    names = [
        cls.__name__
        for cls in get_mapping_from_secret_type_to_class().values()
        if cls.__name__ not in _EXCLUDED_PLUGINS
    ]
    with transient_settings({"plugins_used": [{"name": n} for n in names]}):
        yield _KEYWORDS


def _may_hold_secret(text: str) -> bool:
    low = text.lower()
    if any(lit in low for lit in _LITERALS):
        return True
    if any(w in low for w in _WORDS) and _KEYWORDS.search(low):
        return True
    if "://" in low and _BASIC_AUTH.search(low):
        return True
    return any(lit in text and shape.search(text) for lit, shape in _SHAPES)


def _candidate_lines(text: str) -> tuple[list[str], list[int]]:
    """The lines of ``text`` and the numbers of those for which ``_may_hold_secret`` holds."""
    low = text.lower()
    if len(low) != len(text) or any(b in text for b in _OTHER_BREAKS):
        if not _may_hold_secret(text):
            return [], []
        lines = text.splitlines()
        return lines, [n for n, line in enumerate(lines, start=1) if _may_hold_secret(line)]
    # One character per character and "\n" the only line end: offsets map to line numbers.
    positions: list[int] = []
    for locate in _LOCATE_LOW:
        positions.extend(m.start() for m in locate.finditer(low))
    if "://" in low:
        positions.extend(m.start() for m in _BASIC_AUTH.finditer(low))
    for shape in _LOCATE_SHAPES:
        positions.extend(m.start() for m in shape.finditer(text))
    if not positions:
        return [], []
    positions.sort()
    numbers: list[int] = []
    line, prev = 1, 0
    for pos in positions:
        line += text.count("\n", prev, pos)
        prev = pos
        if not numbers or numbers[-1] != line:
            numbers.append(line)
    lines = text.splitlines()
    return lines, [n for n in numbers if _may_hold_secret(lines[n - 1])]


def scan(abs_path: str, rel: str, text: str, prefilter: re.Pattern[str]) -> list[dict]:
    """The secrets of one file (type and line; never the value)."""
    lines, candidates = _candidate_lines(text)
    if not candidates or _is_filtered_out(
        required_filter_parameters=["filename"], filename=abs_path
    ):
        return []
    found: dict[tuple[int, str], dict] = {}
    try:
        plugins = get_plugins()
        for number in candidates:
            line = lines[number - 1].rstrip()
            context = get_code_snippet(lines=lines, line_number=number)
            # The plugins run before the line filters (detect-secrets runs them after): both
            # are pure, most candidate lines hold no secret, and the filters cost the most.
            hits = [
                (plugin, secret)
                for plugin in plugins
                for secret in _scan_line(plugin=plugin, filename=abs_path, line=line,
                                         line_number=number, context=context)
            ]  # fmt: skip
            if not hits or _is_filtered_out(
                required_filter_parameters=["line"], filename=abs_path, line=line, context=context
            ):
                continue
            for plugin, secret in hits:
                if _is_filtered_out(
                    required_filter_parameters=["context"], filename=secret.filename,
                    secret=secret.secret_value, plugin=plugin, line=line, context=context,
                ):  # fmt: skip
                    continue
                value = secret.secret_value or ""
                if _PLACEHOLDER.match(value.strip()):
                    continue
                found.setdefault(
                    (number, secret.type),
                    {
                        "path": rel,
                        "line": number,
                        "kind": secret.type,
                        "in_test_or_example": bool(_TEST_PATH.search(rel)),
                    },
                )
    except Exception as exc:  # a scanner crash on one file must not end the audit
        _log.warning("secret scan of %s stopped early: %s", rel, type(exc).__name__)
    return [found[k] for k in sorted(found)]

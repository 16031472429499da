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


def scan(abs_path: str, rel: str, text: str, prefilter: re.Pattern[str]) -> list[dict]:
    """The secrets of one file (type and line; never the value)."""
    if not _may_hold_secret(text):
        return []
    lines = text.splitlines()
    candidates = [n for n, line in enumerate(lines, start=1) if _may_hold_secret(line)]
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
            if _is_filtered_out(
                required_filter_parameters=["line"], filename=abs_path, line=line, context=context
            ):
                continue
            for plugin in plugins:
                for secret in _scan_line(plugin=plugin, filename=abs_path, line=line,
                                         line_number=number, context=context):  # fmt: skip
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

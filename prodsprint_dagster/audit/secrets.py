"""Committed secrets, found by detect-secrets and reported without their values.

detect-secrets is the scanner: its plugins find the secrets and its filters drop the false
positives. Its per-line Python is slow, so a line reaches it only when one of the plugin's
*anchors* matches inside that line. An anchor is a Hyperscan pattern that every match of the
plugin's own regexes must contain (its literal prefix, its keyword list, its token shape), so
skipping the other lines changes nothing; all anchors run in one Hyperscan pass over the
file's bytes. The loop over flagged lines mirrors
``detect_secrets.core.scan._process_line_based_plugins`` (hence the pin to detect-secrets
1.5.x in pyproject). The high-entropy and IP-address plugins are left out: in source trees
they flag hashes, ids and test data far more often than secrets, and they would force every
line through the slow path.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import hyperscan
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.core.scan import _is_filtered_out, _scan_line, get_plugins
from detect_secrets.plugins import keyword
from detect_secrets.settings import transient_settings
from detect_secrets.util.code_snippet import get_code_snippet
from detect_secrets.util.filetype import determine_file_type

_log = logging.getLogger(__name__)

_EXCLUDED_PLUGINS = frozenset(
    {"Base64HighEntropyString", "HexHighEntropyString", "IPPublicDetector"}
)
# Values that are obviously placeholders in examples and templates, not secrets.
_PLACEHOLDER = re.compile(
    r"(?i)^(change[-_]?me|changeit|example|placeholder|dummy|test|secret|password|pass|xxx+|"
    r"\*+|<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\}|your[-_]\w*|replace[-_]?me|todo|none|null|)$"
)
_ASSIGN = rb"[\"']?\]? *(?:=|:|:=|=>| +|::) *[\"']?"
# Byte classes that contain every character a Python (Unicode) class of the same name
# matches on a line: ASCII ones plus any byte of a multi-byte character.
_W = rb"[0-9A-Za-z_\x80-\xff]"  # \w
_S = rb"[\t\x0b\x0c\r \x1c-\x1f\x80-\xff]"  # \s (a line holds no "\n")
_Q = rb"[\"'`]"
# detect-secrets' keyword list (keyword.DENYLIST; "contraseña" cut to its ASCII prefix).
_DENY = (
    rb"(?:(?:api|auth|service|account|db|database|priv|private|client)_?key"
    rb"|(?:db|database|key)_?pass|password|passwd|pwd|secret|contrase)"
)


def _keyword(ops: bytes, quote: bytes) -> bytes:
    r"""keyword, \w*, closing quotes/brackets, spaces, an operator, spaces, a quote if required,
    and the first (word) character of the secret: every ``FOLLOWED_BY_*`` regex of
    detect_secrets.plugins.keyword matches a string of this shape."""
    return _DENY + _W + rb"*[\]'\"]{0,2}" + _S + rb"*(?:" + ops + rb")" + _S + rb"*" + quote + _W


_PRECEDED = rb"[!=]{2}" + _S + rb"*" + _W + rb"*" + _DENY  # "value" == my_password
_SEMICOLON = _DENY + rb"[^\n]*" + _Q + rb"[^\n]*;"  # private_key "value";
_FILE_GROUPS = {
    # detect-secrets' keyword regex set per file type -> anchors of that set (caseless).
    "quotes_required": (_keyword(rb":|={1,3}|!==?|=>", _Q), _PRECEDED, _SEMICOLON),
    "config": (_keyword(rb":|={1,3}|!==?", _Q + rb"?"), _PRECEDED, _SEMICOLON),
    "golang": (_keyword(rb":=|={1,3}|!==?", _Q + rb"?"), _PRECEDED, _SEMICOLON),
    "common_c": (_DENY + _W + rb"*(?:\[[0-9]*\])?" + _S + rb"*[!=]{1,2}" + _S + rb"*@?\"" + _W,),
    "cpp": (
        _DENY + _W + rb"*(?:[^\n]{1,4}assign)?\(\"" + _W,
        _keyword(rb"={1,3}|!==?", _Q),
    ),
}
# Per plugin: (pattern over UTF-8 bytes, caseless, keyword file group or None). Every match of
# the plugin's regexes on a line holds a match of one of these within that line. Where the
# plugin's regex uses Unicode classes (\d, \w, \s, ., [^...]), the anchor's byte class also
# admits any byte >= 0x80 (part of a multi-byte character) and its count is a lower bound,
# so it stays a superset. Caseless anchors are ASCII-caseless: the four non-ASCII letters
# that ``re.IGNORECASE`` equates with ASCII ones (``_FOLDS``) flag their lines for every
# caseless plugin.
ANCHORS: dict[str, tuple[tuple[bytes, bool, str | None], ...]] = {
    "ArtifactoryDetector": (
        (rb"AKC[a-zA-Z0-9]{10}", False, None),
        (rb"AP(?:[0-9A-F]|[\x80-\xff]{2,4})[a-zA-Z0-9]{8}", False, None),
    ),
    "AWSKeyDetector": (
        (rb"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}", False, None),
        (
            rb"aws[^\n]{0,80}(?:key|pwd|pw|pass|token)[^\n]{0,80}[\"'][0-9a-z/+]{40}[\"']",
            True,
            None,
        ),
    ),
    "AzureStorageKeyDetector": ((rb"AccountKey=[a-zA-Z0-9+/=]{88}", False, None),),
    "BasicAuthDetector": (
        (rb"://[^:/?#\[\]@!$&'()*+,;=\s]+:[^:/?#\[\]@!$&'()*+,;=\s]+@", False, None),
    ),
    "CloudantDetector": (
        (rb"cl(?:ou(?:dant)?)?[_-]?(?:api)?(?:key|pwd|pw|password|pass|token)", True, None),
        (rb"\.cloudant\.com", True, None),
    ),
    "DiscordBotTokenDetector": (
        (
            rb"[MNO][a-zA-Z0-9_\x80-\xff-]{23,}\.[a-zA-Z0-9_\x80-\xff-]{6,}\."
            rb"[a-zA-Z0-9_\x80-\xff-]{27}",
            False,
            None,
        ),
    ),
    "GitHubTokenDetector": ((rb"gh[pousr]_[A-Za-z0-9_]{36}", False, None),),
    "GitLabTokenDetector": (
        (rb"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-|GR1348941", False, None),
    ),
    "IbmCloudIamDetector": (
        (rb"(?:key|pwd|password|pass|token)" + _ASSIGN + rb"[a-z0-9_-]{44}", True, None),
    ),
    "IbmCosHmacDetector": (
        (rb"secret[_-]?(?:access)?[_-]?key" + _ASSIGN + rb"[a-f0-9]{48}", True, None),
    ),
    "JwtTokenDetector": ((rb"eyJ", False, None),),
    "KeywordDetector": tuple(
        (pattern, True, group) for group, patterns in _FILE_GROUPS.items() for pattern in patterns
    ),
    "MailchimpDetector": ((rb"[0-9a-z]{32}-us[0-9]", False, None),),
    "NpmDetector": ((rb"/:_authToken=", False, None),),
    "OpenAIDetector": ((rb"T3BlbkFJ", False, None),),
    "PrivateKeyDetector": (
        (
            rb"BEGIN (?:DSA |EC |OPENSSH |PGP |RSA |SSH2 ENCRYPTED )?PRIVATE KEY"
            rb"|PuTTY-User-Key-File-2",
            False,
            None,
        ),
    ),
    "PypiTokenDetector": ((rb"pypi-AgE", False, None),),
    "SendGridDetector": ((rb"SG\.[a-zA-Z0-9_-]{22}\.[a-zA-Z0-9_-]{43}", False, None),),
    "SlackDetector": ((rb"xox[abposr]-", True, None), (rb"hooks\.slack\.com", True, None)),
    "SoftlayerDetector": (
        (rb"softlayer|sl[_-]?(?:api)?[_-]?(?:key|pwd|password|pass|token)", True, None),
    ),
    "SquareOAuthDetector": ((rb"sq0csp-", False, None),),
    "StripeDetector": ((rb"[rs]k_live_[0-9a-zA-Z]{24}", False, None),),
    "TelegramBotTokenDetector": ((rb"[0-9\x80-\xff]{8}:[0-9A-Za-z_-]{35}", False, None),),
    "TwilioKeyDetector": ((rb"(?:AC|SK)[a-z0-9]{32}", False, None),),
}
# The keyword regex set detect-secrets picks for a file type, by name.
_GROUP_OF_SET = {
    id(keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP): "quotes_required",
    id(keyword.CONFIG_DENYLIST_REGEX_TO_GROUP): "config",
    id(keyword.GOLANG_DENYLIST_REGEX_TO_GROUP): "golang",
    id(keyword.COMMON_C_DENYLIST_REGEX_TO_GROUP): "common_c",
    id(keyword.C_PLUS_PLUS_REGEX_TO_GROUP): "cpp",
}
# The non-ASCII letters re.IGNORECASE matches with an ASCII one: U+0130 (dotted capital I),
# U+0131 (dotless i), U+017F (long s), U+212A (Kelvin sign).
_FOLDS = rb"\xc4[\xb0\xb1]|\xc5\xbf|\xe2\x84\xaa"
# str.splitlines() also ends lines at these; with any of them present, line numbers come from
# every break rather than from counting "\n".
_ODD_BREAKS = rb"[\x0b\x0c\x1c-\x1e]|\xc2\x85|\xe2\x80[\xa8\xa9]"
_BREAKS = re.compile(rb"\r\n|[\n\r\x0b\x0c\x1c-\x1e]|\xc2\x85|\xe2\x80[\xa8\xa9]")
_TEST_PATH = re.compile(r"(^|/)(tests?|spec|specs|__tests__|fixtures?|testdata|examples?)(/|$)")


@dataclass(frozen=True)
class Gate:
    """The anchors of the enabled plugins (``plugins[i]`` has bit ``1 << i``), as Hyperscan
    expressions with ids ``0 .. size - 1`` (``probe.Probe`` compiles them with other
    readers' literals into one database)."""

    plugins: tuple[str, ...]
    expressions: tuple[bytes, ...]
    flags: tuple[int, ...]
    masks: dict[str, tuple[int, ...]]  # keyword file group -> pattern id -> plugin bits
    always: int  # bits of the plugins without anchors: they see every line
    odd_id: int
    cr_id: int

    @property
    def size(self) -> int:
        return len(self.expressions)


_GATES: dict[tuple[str, ...], Gate] = {}


def _gate(plugins: tuple[str, ...]) -> Gate:
    gate = _GATES.get(plugins)
    if gate is not None:
        return gate
    expressions: list[bytes] = []
    flags: list[int] = []
    bits: list[int] = []
    groups: list[str | None] = []
    caseless = always = 0
    for bit, plugin in enumerate(plugins):
        anchors = ANCHORS.get(plugin)
        if anchors is None:
            always |= 1 << bit
            continue
        for pattern, fold, group in anchors:
            expressions.append(pattern)
            flags.append(hyperscan.HS_FLAG_CASELESS if fold else 0)
            bits.append(1 << bit)
            groups.append(group)
            if fold:
                caseless |= 1 << bit
    for pattern, flag, bit in (
        (_FOLDS, 0, caseless),  # flags its lines for every caseless plugin
        (_ODD_BREAKS, hyperscan.HS_FLAG_SINGLEMATCH, 0),
        (rb"\r", hyperscan.HS_FLAG_SINGLEMATCH, 0),
    ):
        expressions.append(pattern)
        flags.append(flag)
        bits.append(bit)
        groups.append(None)
    masks = {
        name: tuple(b if g is None or g == name else 0 for b, g in zip(bits, groups, strict=True))
        for name in _FILE_GROUPS
    }
    n = len(expressions)
    gate = Gate(plugins, tuple(expressions), tuple(flags), masks, always, n - 2, n - 1)
    _GATES[plugins] = gate
    return gate


class _SharedSettings:
    """detect-secrets keeps its settings in a process global, and ``transient_settings``
    restores the previous ones on exit: with audits running in several threads, the first to
    finish would unconfigure the others mid-scan. Users share one configuration instead:
    the first applies it, the last restores what was there before."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.context: contextlib.AbstractContextManager | None = None

    def enter(self) -> None:
        with self.lock:
            if self.users == 0:
                names = [
                    cls.__name__
                    for cls in get_mapping_from_secret_type_to_class().values()
                    if cls.__name__ not in _EXCLUDED_PLUGINS
                ]
                context = transient_settings({"plugins_used": [{"name": n} for n in names]})
                context.__enter__()
                self.context = context
            self.users += 1

    def exit(self) -> None:
        with self.lock:
            self.users -= 1
            if self.users == 0 and self.context is not None:
                context, self.context = self.context, None
                context.__exit__(None, None, None)


_SETTINGS = _SharedSettings()


@contextlib.contextmanager
def scanner() -> Iterator[Gate]:
    """detect-secrets configured for the audit, and the gate for ``scan``."""
    _SETTINGS.enter()
    try:
        yield _gate(tuple(type(p).__name__ for p in get_plugins()))
    finally:
        _SETTINGS.exit()


def file_group(filename: str) -> str:
    """Which keyword regex set detect-secrets applies to ``filename``."""
    chosen = keyword.REGEX_BY_FILETYPE.get(
        determine_file_type(filename), keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP
    )
    return _GROUP_OF_SET[id(chosen)]


def flagged_lines(
    gate: Gate, data: bytes, found: list[tuple[int, int]], group: str
) -> dict[int, int]:
    """Line number (``str.splitlines`` numbering of the decoded text) -> bits of the plugins
    whose anchors match within that line (``group``: the file's keyword regex set)."""
    masks = gate.masks[group]
    spots = [(end, masks[i]) for i, end in found if masks[i]]
    markers = {i for i, _ in found if i >= gate.odd_id}
    out: dict[int, int] = {}
    if not spots:
        return out
    if gate.odd_id in markers or (
        gate.cr_id in markers and data.count(b"\r") != data.count(b"\r\n")
    ):
        ends = [m.end() for m in _BREAKS.finditer(data)]
        for end, mask in spots:
            # The match's last byte is at end - 1; breaks that end at or before it precede it.
            n = bisect.bisect_right(ends, end - 1) + 1
            out[n] = out.get(n, 0) | mask
        return out
    spots.sort()
    line, prev = 1, 0
    for end, mask in spots:
        line += data.count(b"\n", prev, end - 1)
        prev = end - 1
        out[line] = out.get(line, 0) | mask
    return out


def scan(
    abs_path: str, rel: str, text: str, data: bytes, gate: Gate, anchors: list[tuple[int, int]]
) -> list[dict]:
    """The secrets of one file (type and line; never the value). ``anchors``: the (id, end
    offset) of every match of the gate's expressions in ``data`` (``probe.Probe.scan``)."""
    if not anchors and not gate.always:
        return []
    flagged = flagged_lines(gate, data, anchors, file_group(abs_path))
    everywhere = gate.always
    if not (flagged or everywhere) or _is_filtered_out(
        required_filter_parameters=["filename"], filename=abs_path
    ):
        return []
    found: dict[tuple[int, str], dict] = {}
    try:
        by_name = {type(p).__name__: p for p in get_plugins()}
        plugins = [by_name.get(name) for name in gate.plugins]
        lines = text.splitlines()
        numbers = range(1, len(lines) + 1) if everywhere else sorted(flagged)
        for number in numbers:
            mask = flagged.get(number, 0) | everywhere
            if not mask or number > len(lines):
                continue
            line = lines[number - 1].rstrip()
            context = get_code_snippet(lines=lines, line_number=number)
            # The plugins run before the line filters (detect-secrets runs them after): both
            # are pure, most flagged lines hold no secret, and the filters cost the most.
            hits = [
                (plugin, secret)
                for bit, plugin in enumerate(plugins)
                if mask >> bit & 1 and plugin is not None
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

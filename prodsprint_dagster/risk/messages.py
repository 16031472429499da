"""What a commit message says about the change: a fix, a revert, the commits it cites, a bot.

These are the only facts taken from free text, and they feed both the FIX feature and the
SZZ labels, so the patterns are deliberately conservative: a word has to stand alone
(``prefix`` does not contain ``fix``), and a cited sha only counts once it resolves to a
known commit of the same repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Kamei et al. used "bug", "fix", "defect" and "patch"; the variants and the incident words
# below are what current projects write in fix commits.
_FIX_WORDS = re.compile(
    r"\b(fix(e[sd]|ing)?|bug(s|fix(es)?)?|hot-?fix(es)?|defects?|faults?|patch(ed|es)?|"
    r"crash(es|ed)?|regressions?)\b",
    re.IGNORECASE,
)
# GitHub/GitLab closing keywords and issue trailers: "Fixes #12", "Closes: ABC-123".
_ISSUE_TRAILER = re.compile(
    r"^\s*(fix(es|ed)?|close[sd]?|resolve[sd]?)\s*:?\s*(#\d+|[A-Z][A-Z0-9]+-\d+|https?://\S+)",
    re.IGNORECASE | re.MULTILINE,
)
_REVERT = re.compile(r"This reverts commit ([0-9a-f]{7,64})", re.IGNORECASE)
_REVERT_SUBJECT = re.compile(r'^\s*Revert\s+"', re.IGNORECASE)
_SHA_CITED = re.compile(r"(?<![0-9A-Za-z])([0-9a-f]{7,64})(?![0-9A-Za-z])")
_BOT = re.compile(
    r"\[bot\]|\bbot\b|^(dependabot|renovate|github-actions|greenkeeper|snyk|mergify|"
    r"pre-commit-ci|web-flow|imgbot|allcontributors|semantic-release)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MessageFacts:
    is_fix: bool
    is_revert: bool
    reverts: str | None  # the sha (possibly abbreviated) named by "This reverts commit ..."
    cited: tuple[str, ...]  # other hex ids the message names (resolved later, or dropped)


def read_message(message: str) -> MessageFacts:
    revert = _REVERT.search(message)
    is_revert = bool(revert) or bool(_REVERT_SUBJECT.match(message))
    is_fix = is_revert or bool(_FIX_WORDS.search(message) or _ISSUE_TRAILER.search(message))
    reverted = revert.group(1).lower() if revert else None
    cited: tuple[str, ...] = ()
    if is_fix:
        found = {m.lower() for m in _SHA_CITED.findall(message)}
        # A run of digits only is far more likely a number than an abbreviated sha.
        cited = tuple(sorted(s for s in found if s != reverted and not s.isdigit()))
    return MessageFacts(is_fix=is_fix, is_revert=is_revert, reverts=reverted, cited=cited)


def is_bot(name: str, email: str) -> bool:
    """Automated authors (dependency bots, CI): flagged so a model can tell them apart."""
    local = email.split("@", 1)[0]
    return bool(_BOT.search(name) or _BOT.search(local))

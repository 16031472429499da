"""Removing credentials from text before it can reach a log, the UI, an artifact or a report.

Import-free so that the exception classes themselves can use it.
"""

import re

_USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s'\"]*@")


def redact_url(text: str) -> str:
    """``https://user:token@host/x`` -> ``https://***@host/x``, anywhere in ``text``."""
    return _USERINFO.sub(r"\1***@", text)

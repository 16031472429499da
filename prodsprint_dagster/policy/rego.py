"""The Rego side of a pack: one regopy interpreter per pack, compiled once and queried often.

regopy parses a module when it is added and reports a syntax error as an S-expression that
carries the module name and a byte offset; that offset is turned into a line and column here so
the user sees ``file:line:col``. Errors found only while evaluating (an unknown function) come
back as an error document instead of a result; they are raised too, naming the pack, and the
file when the message names something a file defines or calls.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

# duckdb must be loaded before regopy: the two shared libraries export clashing GNU-unique C++
# symbols, and loading duckdb's after regopy's aborts the process ("double free or corruption")
# on import. Importing it here keeps any import order of the engine safe.
import duckdb  # noqa: F401
from regopy import Interpreter, LogLevel, RegoError
from regopy.rego_shared import (
    rego_bundle_query_entrypoint,
    rego_free_output,
    rego_output_ok,
    rego_output_string,
)

from prodsprint_dagster.policy.errors import PolicyError
from prodsprint_dagster.policy.facts import sanitize

# Every module of a pack adds to this package; one query reads all its rules at once.
PACKAGE = "prodsprint.readiness"
RULES = ("deny", "warn")
_PACKAGE_LINE = re.compile(rf"^\s*package\s+{re.escape(PACKAGE)}\s*$", re.MULTILINE)
_ERROR_AT = re.compile(r"\(error (\d+):")
_OFFSET = re.compile(r"\|(\d+)\|(\d+)")
_ERRMSG = re.compile(r"\(errormsg (\d+):")
_NOT_FOUND = re.compile(r"not found: ([\w.]+)")


def _errmsg(text: str) -> str:
    """The first ``(errormsg N:...)`` of a regopy error S-expression (N is the length)."""
    match = _ERRMSG.search(text)
    if not match:
        return text.strip().splitlines()[0] if text.strip() else "unknown Rego error"
    start = match.end()
    return text[start : start + int(match.group(1))]


def _line_col(source: str, offset: int) -> tuple[int, int]:
    data = source.encode("utf-8")[:offset]
    line = data.count(b"\n") + 1
    col = len(data) - (data.rfind(b"\n") + 1) + 1
    return line, col


def syntax_error(path: Path, source: str, text: str) -> PolicyError:
    """A PolicyError ``file:line:col: message`` from a regopy add_module error."""
    message = _errmsg(text)
    at = _ERROR_AT.search(text)
    offset = _OFFSET.search(text, at.end()) if at else _OFFSET.search(text)
    if offset is None:
        return PolicyError(f"{path}: Rego syntax error: {message}")
    line, col = _line_col(source, int(offset.group(1)))
    return PolicyError(f"{path}:{line}:{col}: Rego syntax error: {message}")


class RegoPack:
    """The compiled modules and settings of one pack; ``evaluate`` is safe across threads.

    The modules are compiled once into a regopy bundle with the ``deny`` and ``warn`` rules as
    entrypoints. A plain ``Interpreter.query`` recompiles every module on every call (about
    15 ms for the built-in packs before any rule runs); querying the bundle's entrypoints does
    not, which keeps one readiness decision in the low milliseconds.
    """

    def __init__(self, name: str, modules: list[tuple[Path, str]], settings: dict[str, Any]):
        self.name = name
        self._sources = modules
        self._lock = threading.Lock()
        self._rego = Interpreter()
        self._rego.log_level = LogLevel.NONE  # errors are raised, not printed to stdout
        for path, source in modules:
            try:
                self._rego.add_module(str(path), source)
            except RegoError as exc:
                raise syntax_error(path, source, str(exc)) from None
        if not any(_PACKAGE_LINE.search(source) for _, source in modules):
            raise PolicyError(f"policy pack {name}: no module declares `package {PACKAGE}`")
        data = json.loads(json.dumps({"settings": settings}, default=str))
        self._rego.add_data_json(json.dumps(sanitize(data)))
        self._entrypoints = [f"{PACKAGE.replace('.', '/')}/{rule}" for rule in RULES]
        try:
            self._bundle = self._rego.build(None, self._entrypoints)
        except RegoError as exc:
            raise PolicyError(f"policy pack {name}: cannot compile: {_errmsg(str(exc))}") from None
        if not self._bundle.ok():
            raise PolicyError(f"policy pack {name}: the Rego modules do not compile")
        # Evaluate once with an empty input: compile errors surface at load, not mid-release.
        self.evaluate({})

    def evaluate(self, facts: dict[str, Any]) -> dict[str, list[Any]]:
        """The ``deny`` and ``warn`` sets for these facts (missing rules give empty lists)."""
        texts = []
        with self._lock:
            self._rego.set_input(facts)
            for entrypoint in self._entrypoints:
                try:
                    impl = rego_bundle_query_entrypoint(
                        self._rego._impl, self._bundle._impl, entrypoint
                    )
                except RegoError as exc:
                    raise self._evaluation_error(str(exc)) from None
                try:
                    texts.append((rego_output_ok(impl), rego_output_string(impl)))
                finally:
                    rego_free_output(impl)
        result: dict[str, list[Any]] = {}
        for rule, (ok, text) in zip(RULES, texts, strict=True):
            if not ok or text.lstrip().startswith("(error"):
                raise self._evaluation_error(text)
            if text.strip() == "undefined":
                result[rule] = []
                continue
            try:
                doc = json.loads(text)
            except ValueError:
                raise PolicyError(
                    f"policy pack {self.name}: the Rego result is not valid JSON; a rule "
                    "probably builds a string with a quote or backslash (regopy prints strings "
                    "unescaped)"
                ) from None
            doc = doc[0] if isinstance(doc, list) else doc
            values = doc.get("expressions") or [[]]
            result[rule] = values[0] if isinstance(values[0], list) else [values[0]]
        return result

    def _evaluation_error(self, text: str) -> PolicyError:
        message = _errmsg(text)
        name = _NOT_FOUND.search(message)
        if name:
            needle = name.group(1)
            for path, source in self._sources:
                for number, line in enumerate(source.splitlines(), start=1):
                    if re.search(rf"(?<![\w.]){re.escape(needle)}\b", line):
                        return PolicyError(f"{path}:{number}: Rego error: {message}")
        return PolicyError(f"policy pack {self.name}: Rego error: {message}")

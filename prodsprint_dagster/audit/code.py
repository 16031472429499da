"""Facts read from source code: env vars, listening ports, frameworks, datastores, health routes.

Regular expressions, not parsers: the auditor must read any language quickly and never run
it. Each pattern is compiled once and guarded by a cheap substring test, so a file that cannot
match costs one ``in`` per concern.
"""

from __future__ import annotations

import re
from collections.abc import Set

from prodsprint_dagster.audit.facts import EnvRef, Facts, PortLink

LANGUAGES = {
    ".py": "Python",
    ".pyi": "Python",
    ".js": "JavaScript",
    ".mjs": "JavaScript",
    ".cjs": "JavaScript",
    ".jsx": "JavaScript",
    ".ts": "TypeScript",
    ".tsx": "TypeScript",
    ".mts": "TypeScript",
    ".go": "Go",
    ".rb": "Ruby",
    ".erb": "HTML+ERB",
    ".java": "Java",
    ".kt": "Kotlin",
    ".kts": "Kotlin",
    ".scala": "Scala",
    ".groovy": "Groovy",
    ".rs": "Rust",
    ".php": "PHP",
    ".cs": "C#",
    ".fs": "F#",
    ".c": "C",
    ".h": "C",
    ".cc": "C++",
    ".cpp": "C++",
    ".hpp": "C++",
    ".swift": "Swift",
    ".ex": "Elixir",
    ".exs": "Elixir",
    ".erl": "Erlang",
    ".hs": "Haskell",
    ".clj": "Clojure",
    ".dart": "Dart",
    ".lua": "Lua",
    ".pl": "Perl",
    ".r": "R",
    ".sh": "Shell",
    ".bash": "Shell",
    ".zsh": "Shell",
    ".ps1": "PowerShell",
    ".html": "HTML",
    ".htm": "HTML",
    ".css": "CSS",
    ".scss": "SCSS",
    ".sass": "Sass",
    ".less": "Less",
    ".vue": "Vue",
    ".svelte": "Svelte",
    ".tf": "HCL",
    ".hcl": "HCL",
    ".sql": "SQL",
}
_NAME_LANGUAGES = {"Dockerfile": "Dockerfile", "Makefile": "Makefile", "Rakefile": "Ruby"}

_ID = r"([A-Za-z_][A-Za-z0-9_]*)"
_LIT = r"""(?:(['"`])([^'"`\n]{0,200})\2|(-?\d+(?:\.\d+)?))"""
_ENV_PATTERNS: dict[str, list[re.Pattern[str]]] = {
    "Python": [
        re.compile(
            r"(?:os\.environ\.get|os\.getenv|environ\.get|getenv|os\.environ\.setdefault)\(\s*"
            rf"['\"]{_ID}['\"]\s*(?:,\s*(?:str\(|int\()?\s*{_LIT})?"
        ),
        re.compile(rf"environ\[\s*['\"]{_ID}['\"]\s*\]"),
    ],
    "JavaScript": [
        re.compile(rf"process\.env\.{_ID}(?:\s*(?:\|\||\?\?)\s*{_LIT})?"),
        re.compile(rf"process\.env\[\s*['\"]{_ID}['\"]\s*\](?:\s*(?:\|\||\?\?)\s*{_LIT})?"),
        re.compile(rf"import\.meta\.env\.{_ID}"),
    ],
    "Go": [re.compile(rf"os\.(?:Getenv|LookupEnv)\(\s*\"{_ID}\"\s*\)")],
    "Ruby": [
        re.compile(rf"ENV\.fetch\(\s*['\"]{_ID}['\"]\s*(?:,\s*{_LIT}\s*)?\)(?:\s*\{{\s*{_LIT})?"),
        re.compile(rf"ENV\[\s*['\"]{_ID}['\"]\s*\](?:\s*\|\|\s*{_LIT})?"),
    ],
    "Java": [re.compile(rf"System\.getenv\(\s*\"{_ID}\"\s*\)")],
    "Rust": [re.compile(rf"env::var(?:_os)?\(\s*\"{_ID}\"\s*\)")],
    "PHP": [
        re.compile(rf"(?:getenv|env)\(\s*['\"]{_ID}['\"]\s*(?:,\s*{_LIT})?"),
        re.compile(rf"\$_(?:ENV|SERVER)\[\s*['\"]{_ID}['\"]\s*\]"),
    ],
    "C#": [re.compile(rf"GetEnvironmentVariable\(\s*\"{_ID}\"\s*\)")],
    "Elixir": [re.compile(rf"System\.(?:get_env|fetch_env!?)\(\s*\"{_ID}\"\s*(?:,\s*{_LIT})?")],
}
# Patterns that do not start with a literal (sre then tries nearly every position): every
# match starts ``offset`` characters before an occurrence of one of these literals, so they
# are only tried there (``_finditer_from``), which finds the same matches as ``finditer``.
_MATCH_STARTS: dict[re.Pattern[str], tuple[tuple[str, tuple[int, ...]], ...]] = {
    _ENV_PATTERNS["Python"][0]: (("environ", (3, 0)), ("getenv", (3, 0))),
    _ENV_PATTERNS["PHP"][0]: (("env(", (3, 0)),),
}
# Every match of these patterns contains one of these literals: the pattern only runs on files
# where the probe found one (the others find their own starts, above).
_ENV_NEEDS: dict[re.Pattern[str], tuple[str, ...]] = {
    _ENV_PATTERNS["Python"][1]: ("environ[",),
    _ENV_PATTERNS["JavaScript"][0]: ("process.env.",),
    _ENV_PATTERNS["JavaScript"][1]: ("process.env[",),
    _ENV_PATTERNS["JavaScript"][2]: ("import.meta.env.",),
    _ENV_PATTERNS["Go"][0]: ("os.Getenv(", "os.LookupEnv("),
    _ENV_PATTERNS["Ruby"][0]: ("ENV.fetch(",),
    _ENV_PATTERNS["Ruby"][1]: ("ENV[",),
    _ENV_PATTERNS["Java"][0]: ("System.getenv(",),
    _ENV_PATTERNS["Rust"][0]: ("env::var",),
    _ENV_PATTERNS["PHP"][1]: ("$_ENV[", "$_SERVER["),
    _ENV_PATTERNS["C#"][0]: ("GetEnvironmentVariable(",),
    _ENV_PATTERNS["Elixir"][0]: ("System.get_env(", "System.fetch_env"),
}
_ENV_PATTERNS["TypeScript"] = _ENV_PATTERNS["JavaScript"]
_ENV_PATTERNS["Vue"] = _ENV_PATTERNS["JavaScript"]
_ENV_PATTERNS["Svelte"] = _ENV_PATTERNS["JavaScript"]
_ENV_PATTERNS["Kotlin"] = _ENV_PATTERNS["Java"]
_ENV_PATTERNS["Scala"] = _ENV_PATTERNS["Java"]
_ENV_PATTERNS["Groovy"] = _ENV_PATTERNS["Java"]
_ENV_GUARD = {
    "Python": ("environ", "getenv"),
    "JavaScript": ("process.env", "import.meta.env"),
    "TypeScript": ("process.env", "import.meta.env"),
    "Vue": ("process.env", "import.meta.env"),
    "Svelte": ("process.env", "import.meta.env"),
    "Go": ("os.Getenv", "os.LookupEnv"),
    "Ruby": ("ENV",),
    "Java": ("getenv",),
    "Kotlin": ("getenv",),
    "Scala": ("getenv",),
    "Groovy": ("getenv",),
    "Rust": ("env::var",),
    "PHP": ("env", "_ENV", "_SERVER"),
    "C#": ("GetEnvironmentVariable",),
    "Elixir": ("System.",),
}
PORT_VARS = frozenset({"PORT", "HTTP_PORT", "APP_PORT", "SERVER_PORT", "WEB_PORT", "LISTEN_PORT"})

_PORT_LITERALS: dict[str, list[re.Pattern[str]]] = {
    "Python": [
        re.compile(
            r"\b(?:uvicorn\.run|\.run|run_app|serve|run_simple)\([^)\n]*?\bport\s*=\s*(\d{2,5})"
        ),
        re.compile(r"\bHTTPServer\(\s*\(\s*['\"][^'\"]*['\"]\s*,\s*(\d{2,5})"),
    ],
    "JavaScript": [
        re.compile(r"\.listen\(\s*(\d{2,5})\b"),
        re.compile(r"\.listen\(\s*\{[^}]{0,80}\bport:\s*(\d{2,5})"),
        re.compile(
            r"(?m)^\s*(?:export\s+)?(?:const|let|var)\s+(?:port|PORT)\s*(?::\s*\w+\s*)?=\s*(\d{2,5})\b"
        ),
    ],
    "Go": [
        re.compile(
            r"(?:ListenAndServe(?:TLS)?|\.Run|\.Listen|\.Start|net\.Listen)\(\s*(?:\"tcp\",\s*)?\"[\w.\[\]]*:(\d{2,5})\""
        ),
        re.compile(r"\bAddr:\s*\"[\w.]*:(\d{2,5})\""),
        re.compile(r"(?i)\bport\s*:?=\s*\":?(\d{2,5})\""),
    ],
    "Ruby": [re.compile(r"\bset\s+:port,\s*(\d{2,5})"), re.compile(r"(?m)^\s*port\s+(\d{2,5})\b")],
    "Rust": [
        re.compile(r"\.bind\(\s*\(\s*\"[\d.]+\"\s*,\s*(\d{2,5})"),
        re.compile(r"\"(?:0\.0\.0\.0|127\.0\.0\.1|\[::\]):(\d{2,5})\""),
    ],
    "C#": [re.compile(r"UseUrls\(\s*\"https?://[^\"]*:(\d{2,5})")],
    "Java": [re.compile(r"\bport\((\d{2,5})\)")],
}
_PORT_LITERALS["TypeScript"] = _PORT_LITERALS["JavaScript"]
_PORT_GUARD = {"Python": "port", "JavaScript": "listen", "TypeScript": "listen", "Go": ":"}
# A necessary condition per port pattern (same order): the name of a probe (see PROBES) that
# matches wherever the pattern does; the pattern is skipped when it is not ``present``.
_PORT_QUICK: dict[str, tuple[str, ...]] = {
    "Python": ("py-port", "HTTPServer"),
    "JavaScript": (".listen(", ".listen(", "js-port"),
    "Go": ("go-serve", "Addr:", "go-port"),
}
_PORT_QUICK["TypeScript"] = _PORT_QUICK["JavaScript"]

_PY_IMPORT = re.compile(
    r"(?m)^\s*(?:from|import)\s+(flask|fastapi|django|starlette|aiohttp|tornado|sanic|litestar"
    r"|celery|bottle|falcon|pyramid|quart|rq|dramatiq|streamlit|gradio)\b"
)
_GO_HTTP = re.compile(r"\bhttp\.ListenAndServe(?:TLS)?\(")
_HEALTH = re.compile(
    r"""['"`]((?:/[\w.-]+)*/(?:health|healthz|healthcheck|health-check|livez|readyz|ready|ping|up|_health|status))/?['"`]"""
)
DATASTORE_SCHEMES = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mariadb",
    "mongodb": "mongodb",
    "mongodb+srv": "mongodb",
    "redis": "redis",
    "rediss": "redis",
    "amqp": "rabbitmq",
    "amqps": "rabbitmq",
    "sqlite": "sqlite",
    "mssql": "mssql",
    "sqlserver": "mssql",
    "cockroachdb": "cockroachdb",
    "clickhouse": "clickhouse",
    "kafka": "kafka",
}
_URL = re.compile(
    r"\b(postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|sqlite|mssql|cockroachdb"
    r"|clickhouse)(?:\+\w+)?:///?|\bjdbc:(postgresql|mysql|mariadb|sqlserver|h2|oracle|sqlite):"
)
_JDBC = {"postgresql": "postgres", "sqlserver": "mssql", "h2": "h2"}

# Byte classes that hold every character a Python (Unicode) class matches, as UTF-8: the
# ASCII members plus any byte of a multi-byte character.
_S = rb"[\t\n\x0b\x0c\r \x1c-\x1f\x80-\xff]"  # \s
_D = rb"(?:[0-9]|[\x80-\xff])"  # \d
_W = rb"[0-9A-Za-z_\x80-\xff]"  # \w
_FRAMEWORKS = (
    rb"(?:flask|fastapi|django|starlette|aiohttp|tornado|sanic|litestar|celery|bottle|falcon"
    rb"|pyramid|quart|rq|dramatiq|streamlit|gradio)"
)
# Literals nearly every file holds: ``in`` finds them at once, while the probe would pay a
# callback per file for them. scan_code tests them on the text.
_FREQUENT = frozenset({":", "/", "import", "port", "env"})
_PROBED_LITERALS = {
    *(g for guards in _ENV_GUARD.values() for g in guards),
    *(lit for needs in _ENV_NEEDS.values() for lit in needs),
    *_PORT_GUARD.values(),
    *("HTTPServer", ".listen(", "Addr:", "Getenv", "ListenAndServe"),
} - _FREQUENT
# What the engine's probe looks for in each file, by name: Hyperscan patterns over its bytes.
# scan_code runs a regex only when the probe it names is ``present``; each probe matches
# wherever its regex does (a literal the regex needs, or a superset of the regex: no \b, no
# look-around, Unicode classes widened as above), so skipping on absence loses nothing.
PROBES: dict[str, bytes] = {
    **{lit: re.escape(lit).encode() for lit in sorted(_PROBED_LITERALS)},
    "py-port": rb"port" + _S + rb"*=" + _S + rb"*" + _D,
    "js-port": rb"(?:port|PORT)%s*(?::%s*%s+%s*)?=%s*%s" % (_S, _S, _W, _S, _S, _D),
    "go-serve": rb"ListenAndServe|\.Run\(|\.Listen\(|\.Start\(",
    "go-port": rb"=" + _S + rb"*\":?" + _D,
    "py-import": rb"(?:from|import)" + _S + rb"+" + _FRAMEWORKS,
    "health": rb"/(?:health|healthz|healthcheck|health-check|livez|readyz|ready|ping|up|_health"
    rb"|status)/?[\"'`]",
    "url": rb"(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|sqlite|mssql"
    rb"|cockroachdb|clickhouse)(?:\+" + _W + rb"+)?:///?"
    rb"|jdbc:(?:postgresql|mysql|mariadb|sqlserver|h2|oracle|sqlite):",
}


def _has(literal: str, text: str, present: Set[str]) -> bool:
    return literal in text if literal in _FREQUENT else literal in present


def language_of(name: str, ext: str) -> str | None:
    if name in _NAME_LANGUAGES or name.startswith("Dockerfile"):
        return _NAME_LANGUAGES.get(name, "Dockerfile")
    return LANGUAGES.get(ext)


def _literal(m: re.Match[str], base: int) -> str | None:
    """The default from a ``_LIT`` group set starting at ``base`` (quoted text or a number)."""
    if m.re.groups < base + 2:
        return None
    quoted, number = m.group(base + 1), m.group(base + 2)
    if quoted is not None:
        return quoted
    return number


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _finditer_from(
    pattern: re.Pattern[str], text: str, literals: tuple[tuple[str, tuple[int, ...]], ...]
) -> list[re.Match[str]]:
    """``list(pattern.finditer(text))`` when every match starts ``offset`` characters before
    one of ``literals``: ``match`` at each such position, left to right, never inside an
    earlier match (a match at a position is the one a search would find there)."""
    starts: list[int] = []
    for literal, offsets in literals:
        i = text.find(literal)
        while i >= 0:
            starts.extend(i - off for off in offsets if i >= off)
            i = text.find(literal, i + 1)
    if len(starts) > 1:
        starts = sorted(set(starts))
    found = []
    pos = 0
    for start in starts:
        if start >= pos:
            m = pattern.match(text, start)
            if m is not None:
                found.append(m)
                pos = max(m.end(), start + 1)
    return found


def scan_code(facts: Facts, rel: str, root: str, lang: str, text: str, present: Set[str]) -> None:
    """Env var references, port defaults, framework imports and datastore URLs of one file.

    ``present``: the names of PROBES that match the file (``probe.Probe.scan``).
    """
    guards = _ENV_GUARD.get(lang)
    if guards and any(_has(g, text, present) for g in guards):
        for pattern in _ENV_PATTERNS[lang]:
            needs = _ENV_NEEDS.get(pattern)
            if needs is not None and present.isdisjoint(needs):
                continue
            starts = _MATCH_STARTS.get(pattern)
            found = (
                pattern.finditer(text) if starts is None else _finditer_from(pattern, text, starts)
            )
            for m in found:
                name = m.group(1)
                default = _literal(m, 2)
                if default is None and m.re.groups >= 7:
                    default = _literal(m, 5)  # ENV.fetch("X") { default }
                ev = f"{rel}:{_line(text, m.start())}"
                facts.env_refs.append(EnvRef(name, ev, "code", default))
                if name in PORT_VARS and default and default.isdigit():
                    facts.code_ports[root].append(PortLink("code_default", int(default), (ev,)))
    literals = _PORT_LITERALS.get(lang)
    guard = _PORT_GUARD.get(lang)
    if literals and (guard is None or _has(guard, text, present)):
        go_env = lang != "Go" or "Getenv" in present or "ListenAndServe" in present
        quick = _PORT_QUICK.get(lang)
        for i, pattern in enumerate(literals):
            if lang == "Go" and i == 2 and not go_env:
                continue
            if quick is not None and quick[i] not in present:
                continue
            for m in pattern.finditer(text):
                port = int(m.group(1))
                if 0 < port < 65536:
                    ev = f"{rel}:{_line(text, m.start())}"
                    facts.code_ports[root].append(PortLink("code_default", port, (ev,)))
    if lang == "Python":
        if "py-import" in present:
            for m in _PY_IMPORT.finditer(text):
                facts.frameworks[root].setdefault(m.group(1), f"{rel}:{_line(text, m.start())}")
    elif lang == "Go" and "ListenAndServe" in present:
        m = _GO_HTTP.search(text)
        if m:
            facts.frameworks[root].setdefault("net/http", f"{rel}:{_line(text, m.start())}")
    if "health" in present:
        m = _HEALTH.search(text)
        if m:
            facts.health[root].append(f"{rel}:{_line(text, m.start())}")
    scan_urls(facts, rel, text, present)


def scan_urls(
    facts: Facts, rel: str, text: str, present: Set[str], service: str | None = None
) -> None:
    """Datastore engines named by connection URLs (``postgresql://``, ``jdbc:mysql:``)."""
    if "url" not in present:
        return
    seen: set[str] = set()
    for m in _URL.finditer(text):
        if m.group(1):
            engine = DATASTORE_SCHEMES[m.group(1).lower()]
        else:
            engine = _JDBC.get(m.group(2), m.group(2))
        if engine in seen:
            continue
        seen.add(engine)
        facts.datastore_hits.append((engine, f"{rel}:{_line(text, m.start())}", service))

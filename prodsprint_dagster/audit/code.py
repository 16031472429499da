"""Facts read from source code: env vars, listening ports, frameworks, datastores, health routes.

Regular expressions, not parsers: the auditor must read any language quickly and never run
it. Each pattern is compiled once and guarded by a cheap substring test, so a file that cannot
match costs one ``in`` per concern.
"""

from __future__ import annotations

import re

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
# A necessary condition per port pattern (same order): a literal or a regex that starts with a
# literal, found far faster than the pattern itself, which is skipped when it fails.
_PORT_QUICK: dict[str, tuple[str | re.Pattern[str] | None, ...]] = {
    "Python": (re.compile(r"port\s*=\s*\d"), "HTTPServer"),
    "JavaScript": (".listen(", ".listen(", re.compile(r"(?:port|PORT)\s*(?::\s*\w+\s*)?=\s*\d")),
    "Go": (
        re.compile(r"ListenAndServe|\.Run\(|\.Listen\(|\.Start\("),
        "Addr:",
        re.compile(r"=\s*\":?\d"),
    ),
}
_PORT_QUICK["TypeScript"] = _PORT_QUICK["JavaScript"]

_PY_IMPORT = re.compile(
    r"(?m)^\s*(?:from|import)\s+(flask|fastapi|django|starlette|aiohttp|tornado|sanic|litestar"
    r"|celery|bottle|falcon|pyramid|quart|rq|dramatiq|streamlit|gradio)\b"
)
_PY_IMPORT_QUICK = tuple(
    re.compile(
        kw + r"\s+(?:flask|fastapi|django|starlette|aiohttp|tornado|sanic|litestar|celery|bottle"
        r"|falcon|pyramid|quart|rq|dramatiq|streamlit|gradio)\b"
    )
    for kw in ("from", "import")
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
# Every _HEALTH match ends with this, which starts with a literal (fast to look for).
_HEALTH_QUICK = re.compile(
    r"/(?:health|healthz|healthcheck|health-check|livez|readyz|ready|ping|up|_health|status)"
    r"/?['\"`]"
)
_JDBC = {"postgresql": "postgres", "sqlserver": "mssql", "h2": "h2"}
_URL_GUARD = ("://", "jdbc:")
_URL_SCHEMES = (
    "postgres", "mysql", "mariadb", "mongodb", "redis", "amqp", "sqlite", "mssql", "cockroachdb",
    "clickhouse",
)  # fmt: skip


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


def scan_code(facts: Facts, rel: str, root: str, lang: str, text: str) -> None:
    """Env var references, port defaults, framework imports and datastore URLs of one file."""
    guards = _ENV_GUARD.get(lang)
    if guards and any(g in text for g in guards):
        for pattern in _ENV_PATTERNS[lang]:
            for m in pattern.finditer(text):
                name = m.group(1)
                default = _literal(m, 2)
                if default is None and m.re.groups >= 7:
                    default = _literal(m, 5)  # ENV.fetch("X") { default }
                ev = f"{rel}:{_line(text, m.start())}"
                facts.env_refs.append(EnvRef(name, ev, "code", default))
                if name in PORT_VARS and default and default.isdigit():
                    facts.code_ports[root].append(PortLink("code_default", int(default), (ev,)))
    literals = _PORT_LITERALS.get(lang)
    if literals and _PORT_GUARD.get(lang, "") in text:
        go_env = lang != "Go" or "Getenv" in text or "ListenAndServe" in text
        quick = _PORT_QUICK.get(lang) or (None,) * len(literals)
        for i, pattern in enumerate(literals):
            if lang == "Go" and i == 2 and not go_env:
                continue
            q = quick[i]
            if q is not None and (q not in text if isinstance(q, str) else not q.search(text)):
                continue
            for m in pattern.finditer(text):
                port = int(m.group(1))
                if 0 < port < 65536:
                    ev = f"{rel}:{_line(text, m.start())}"
                    facts.code_ports[root].append(PortLink("code_default", port, (ev,)))
    if lang == "Python" and ("import" in text) and any(q.search(text) for q in _PY_IMPORT_QUICK):
        for m in _PY_IMPORT.finditer(text):
            facts.frameworks[root].setdefault(m.group(1), f"{rel}:{_line(text, m.start())}")
    elif lang == "Go" and "ListenAndServe" in text:
        m = _GO_HTTP.search(text)
        if m:
            facts.frameworks[root].setdefault("net/http", f"{rel}:{_line(text, m.start())}")
    scan_health(facts, rel, root, text)
    scan_urls(facts, rel, text)


def scan_health(facts: Facts, rel: str, root: str, text: str) -> None:
    if "/" not in text or not _HEALTH_QUICK.search(text):
        return
    m = _HEALTH.search(text)
    if m:
        facts.health[root].append(f"{rel}:{_line(text, m.start())}")


def scan_urls(facts: Facts, rel: str, text: str, service: str | None = None) -> None:
    """Datastore engines named by connection URLs (``postgresql://``, ``jdbc:mysql:``)."""
    if not any(g in text for g in _URL_GUARD) or not _may_name_datastore(text):
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


def _may_name_datastore(text: str) -> bool:
    """False only when ``_URL`` cannot match: no ``jdbc:``, and no ``://`` whose preceding run
    of word characters and ``+`` (where a match's scheme would be) holds a scheme name."""
    if "jdbc:" in text:
        return True
    i = text.find("://")
    while i >= 0:
        j = i
        while j > 0 and (text[j - 1] == "+" or text[j - 1] == "_" or text[j - 1].isalnum()):
            j -= 1
        if i - j >= 4:
            run = text[j:i]
            if any(s in run for s in _URL_SCHEMES):
                return True
        i = text.find("://", i + 3)
    return False

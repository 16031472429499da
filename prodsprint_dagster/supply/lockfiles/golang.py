"""go.mod (with its go.sum) and a lone go.sum, read by hand-written line parsers.

go.mod is the version list since Go 1.17 (module graph pruning puts every module the build
needs into ``require``, indirect ones marked ``// indirect``); ``replace`` directives swap in
the module actually built, and a replacement by a local directory is the repository's own code.
go.sum supplies the ``h1:`` hash, which is a hash of the module's file tree (dirhash), not of an
archive: it is kept as a ``go-h1`` property, never as a CycloneDX hash. A go.sum without a
go.mod yields every module version whose source (not only its go.mod) was hashed.
"""

from __future__ import annotations

from prodsprint_dagster.supply.lockfiles._base import LockInput, Malformed
from prodsprint_dagster.supply.lockfiles._purl import make
from prodsprint_dagster.supply.model import Component, Gap

_BLOCKS = ("require", "replace", "exclude", "retract", "tool", "ignore", "godebug")


def _strip_comment(line: str) -> tuple[str, str]:
    code, sep, comment = line.partition("//")
    return code.strip(), comment.strip() if sep else ""


def _fields(code: str, number: int) -> list[str]:
    """Whitespace-separated fields, honouring Go's quoted strings."""
    out: list[str] = []
    i, n = 0, len(code)
    while i < n:
        if code[i].isspace():
            i += 1
            continue
        if code[i] in '"`':
            end = code.find(code[i], i + 1)
            if end < 0:
                raise Malformed("unterminated quoted string", number)
            out.append(code[i + 1 : end])
            i = end + 1
            continue
        j = i
        while j < n and not code[j].isspace():
            j += 1
        out.append(code[i:j])
        i = j
    return out


def read_go_sum(text: str) -> dict[tuple[str, str], tuple[str, int]]:
    """(module, version) -> (``h1:`` hash of the module source, line); ``/go.mod``-only lines
    are skipped."""
    out: dict[tuple[str, str], tuple[str, int]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        parts = raw.split()
        if not parts:
            continue
        if len(parts) != 3 or not parts[2].startswith("h1:"):
            raise Malformed("expected 'module version h1:hash'", number)
        module, version, digest = parts
        if version.endswith("/go.mod"):
            continue
        out.setdefault((module, version), (digest, number))
    return out


def parse_go_mod(src: LockInput) -> list[Component]:
    requires: list[tuple[str, str, int, bool]] = []
    replaces: dict[tuple[str, str | None], tuple[str, str | None]] = {}
    block: str | None = None
    module_seen = False
    for number, raw in enumerate(src.text.splitlines(), 1):
        code, comment = _strip_comment(raw)
        if not code:
            continue
        if block is not None:
            if code == ")":
                block = None
                continue
            _directive(block, _fields(code, number), comment, number, requires, replaces)
            continue
        words = _fields(code, number)
        verb = words[0]
        if verb == "module":
            module_seen = True
            continue
        if verb in _BLOCKS and words[1:] == ["("]:
            block = verb
            continue
        if verb in _BLOCKS:
            _directive(verb, words[1:], comment, number, requires, replaces)
        elif verb not in ("go", "toolchain"):
            raise Malformed(f"unknown directive {verb!r}", number)
    if block is not None:
        raise Malformed(f"unterminated {block} ( block", None)
    if not module_seen:
        raise Malformed("no 'module' directive", 1)

    sums: dict[tuple[str, str], tuple[str, int]] = {}
    found = src.sibling("go.sum")
    if found is not None:
        try:
            sums = read_go_sum(found[1])
        except Malformed as exc:
            src.gaps.append(Gap("malformed_lockfile", found[0], exc.message, exc.line))
    out = []
    for path, version, number, _indirect in requires:
        target = replaces.get((path, version)) or replaces.get((path, None))
        if target is not None:
            path, new_version = target
            if new_version is None:
                continue  # replaced by a local directory: own code
            version = new_version
        digest = sums.get((path, version), ("", 0))[0]
        out.append(
            make(
                "Go",
                path,
                version,
                source=src.rel,
                line=number,
                hashes=(("go-h1", digest),) if digest else (),
            )
        )
    return out


def _directive(
    verb: str,
    args: list[str],
    comment: str,
    number: int,
    requires: list,
    replaces: dict,
) -> None:
    if verb == "require":
        if len(args) != 2:
            raise Malformed("require needs 'module version'", number)
        requires.append((args[0], args[1], number, "indirect" in comment.split(";")[0]))
    elif verb == "replace":
        if "=>" not in args:
            raise Malformed("replace needs '=>'", number)
        arrow = args.index("=>")
        old, new = args[:arrow], args[arrow + 1 :]
        if len(old) not in (1, 2) or len(new) not in (1, 2):
            raise Malformed("replace needs 'module [version] => target [version]'", number)
        local = len(new) == 1
        replaces[(old[0], old[1] if len(old) == 2 else None)] = (
            new[0],
            None if local else new[1],
        )


def parse_go_sum(src: LockInput) -> list[Component]:
    return [
        make("Go", module, version, source=src.rel, line=line, hashes=(("go-h1", digest),))
        for (module, version), (digest, line) in read_go_sum(src.text).items()
    ]

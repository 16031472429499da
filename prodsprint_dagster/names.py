"""Validation of the untrusted names that reach git, the filesystem and Dagster partition keys.

A repository name becomes a partition key, a directory name and an S3 key prefix, so it is
held to a slug; URLs and branch names go to git as arguments, so anything git could read as an
option or as a transport helper (``ext::``) is refused before it gets there.
"""

from __future__ import annotations

import re
from pathlib import Path

from prodsprint_dagster.errors import InvalidNameError
from prodsprint_dagster.redact import redact_url  # noqa: F401 - re-exported for callers

_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_URL_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://")
# user@host:path (scp-like ssh); the host part may not contain '/' before the colon.
_SCP_LIKE = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_repo_name(name: str) -> str:
    """Return ``name`` if it can serve as a partition key and a path segment, else raise."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError("repository name is empty")
    if _CONTROL.search(name):
        raise InvalidNameError(f"repository name {name!r} contains control characters")
    if name.startswith("-"):
        raise InvalidNameError(f"repository name {name!r} starts with '-'")
    if "/" in name or "\\" in name:
        raise InvalidNameError(
            f"repository name {name!r} contains a path separator; use 'team__service'"
        )
    if ".." in name:
        raise InvalidNameError(f"repository name {name!r} contains '..'")
    if " " in name:
        raise InvalidNameError(f"repository name {name!r} contains spaces")
    if name != name.lower():
        raise InvalidNameError(f"repository name {name!r} has upper-case letters; use lower case")
    if not _SLUG.fullmatch(name):
        raise InvalidNameError(
            f"repository name {name!r} must be 1-100 characters of a-z, 0-9, '.', '_', '-', "
            "starting with a letter or digit"
        )
    return name


def slugify(text: str) -> str:
    """Turn a free-form name (``Team/Service``) into a valid repository name."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.strip().lower().replace("/", "__"))
    slug = re.sub(r"\.{2,}", ".", slug).strip("-.")
    return validate_repo_name(slug[:100] or "repo")


def validate_git_url(url: str, *, base_dir: Path | None = None) -> str:
    """Return a URL or absolute local path that git may fetch from, else raise.

    Transport helpers (``ext::``, ``fd::``), option-looking values and control characters are
    refused; relative local paths are resolved against ``base_dir`` (the config file's folder).
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidNameError("repository URL is empty")
    if _CONTROL.search(url):
        raise InvalidNameError(f"repository URL {url!r} contains control characters")
    if url.startswith("-"):
        raise InvalidNameError(f"repository URL {url!r} starts with '-' (git would read an option)")
    if "::" in url.split("/", 1)[0] or re.match(r"[A-Za-z][A-Za-z0-9+.-]*::", url):
        raise InvalidNameError(
            f"repository URL {url!r} uses a git transport helper ('<transport>::'), which can run "
            "commands; use https://, ssh://, git://, file:// or a local path"
        )
    lowered = url.lower()
    if lowered.startswith(_URL_SCHEMES):
        if lowered.startswith("file://"):
            return url
        if re.fullmatch(r"[a-z]+://[^/\s]+(/\S*)?", url, flags=re.IGNORECASE) is None:
            raise InvalidNameError(f"repository URL {url!r} is not a valid URL")
        return url
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise InvalidNameError(f"repository URL {url!r} uses unsupported scheme {scheme!r}")
    if _SCP_LIKE.fullmatch(url) and not Path(url).exists():
        return url
    path = Path(url).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return str(path.resolve())


def is_local_url(url: str) -> bool:
    """True when ``url`` names a repository on this machine (a path or a file:// URL)."""
    return url.startswith("/") or url.lower().startswith("file://")


def local_path(url: str) -> Path:
    return Path(url[len("file://") :] if url.lower().startswith("file://") else url)


def validate_branch(branch: str) -> str:
    """Apply git's ref-name rules (git check-ref-format) to a branch name, without a shell."""
    bad = (
        not branch
        or branch.startswith(("-", "/", "."))
        or branch.endswith(("/", ".", ".lock"))
        or ".." in branch
        or "//" in branch
        or "@{" in branch
        or branch == "@"
        or _CONTROL.search(branch)
        or re.search(r"[\s~^:?*\[\\]", branch)
    )
    if bad:
        raise InvalidNameError(f"branch name {branch!r} is not a valid git branch name")
    return branch


def validate_sha(sha: str) -> str:
    """Return a full, lower-case commit id (SHA-1 or SHA-256), else raise."""
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        raise InvalidNameError(f"commit id {sha!r} is not a full 40- or 64-character hex sha")
    return sha


def validate_artifact_name(name: str) -> str:
    """An artifact name is a relative path below its commit folder, never escaping it."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or _CONTROL.search(name)
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise InvalidNameError(f"artifact name {name!r} must be a relative path without '..'")
    return name

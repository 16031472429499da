"""The one partitions definition: a dynamic partition per registered repository.

Partition keys are repository names, already validated as slugs (names.validate_repo_name);
the new-commit sensor adds a key when it first sees a registered repository.
"""

import dagster as dg

from prodsprint_dagster.constants import PARTITIONS_NAME

repos_partitions = dg.DynamicPartitionsDefinition(name=PARTITIONS_NAME)

"""Names shared by the engine, the Dagster layer and the docs.

Kept import-free so that any layer can use them without dragging in anything else.
"""

PARTITIONS_NAME = "repos"

# Asset groups: jobs and sensors select by group so they never import assets/.
GROUP_READINESS_CHAIN = "readiness_chain"

# Concurrency pools (limits are set in the instance's dagster.yaml that `make setup` writes).
POOL_HISTORY_DB = "history_db"
# One perf measurement at a time: two load generators on two cores would measure each other.
POOL_PERF_LOAD = "perf_load"

# Jobs referenced by name from sensors.
READINESS_CHAIN_JOB = "readiness_chain_job"

# Run tags.
TAG_REPO = "prodsprint/repo"
TAG_COMMIT = "prodsprint/commit"
TAG_RELEASE = "prodsprint/release"

CONFIG_ENV = "PRODSPRINT_CONFIG"
HOME_ENV = "PRODSPRINT_HOME"
CONFIG_FILENAME = "prodsprint.yaml"
DEFAULT_HOME = ".prodsprint"

"""`risk_model_job` retrains the change-risk model; `risk_model_schedule` runs it weekly.

The job selects the asset by key (jobs never import assets/). Weekly is enough: a model
learns from incidents and fixes, which accumulate over weeks, and a retrain reads the whole
history store. Materialize `risk_model` by hand after importing a batch of incidents.
"""

import dagster as dg

RISK_MODEL_JOB = "risk_model_job"

risk_model_job = dg.define_asset_job(
    RISK_MODEL_JOB,
    selection=dg.AssetSelection.assets("risk_model"),
    description="Retrain the change-risk model over every repository and the incidents.",
)

risk_model_schedule = dg.ScheduleDefinition(
    name="risk_model_schedule",
    job=risk_model_job,
    cron_schedule="0 4 * * 1",  # Mondays 04:00 UTC
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Weekly retraining of the change-risk model.",
)

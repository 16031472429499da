# risk: the change-risk score; a very risky change is blocked, a risky one gets a careful rollout.
package prodsprint.readiness

import rego.v1

deny contains result("risk", "score", sprintf("change-risk score %.2f is at or above the %v limit", [input.risk.score, data.settings.risk_block_score]), "a smaller change (split it) or a waiver from the release owner") if {
	input.risk.score >= data.settings.risk_block_score
}

# Policy consistency: bands that must have a manual gate get one in the effective rollout.
deny contains result("risk", "rollout_manual_gate", sprintf("risk band %s needs a manual rollout step, and the rollout plan has none", [input.risk.band]), "a rollout mapping with a manual step for this band") if {
	input.risk.band in data.settings.risk_manual_bands
	not has_manual_step
}

has_manual_step if {
	some step in input.rollout.steps
	step.manual
}

warn contains result("risk", "band", sprintf("risk band %s: the rollout uses more steps and longer soaks", [input.risk.band]), "a lower change-risk score") if {
	input.risk.band in data.settings.risk_warn_bands
}

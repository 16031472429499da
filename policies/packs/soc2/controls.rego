# SOC 2 controls read from the deploy plan (its `resources` and `logging`) and the approvals.
# The control id of each denial comes from the pack's `controls` setting, so a pack extending
# this one (hipaa) reports its own ids with the same rules.
package prodsprint.readiness

import rego.v1

deny contains result("encryption_at_rest", r.address, sprintf("%s (%s) is not encrypted at rest", [r.address, r.kind]), "the plan resource with storage encryption enabled (a KMS key or provider default encryption)") if {
	some r in input.resources
	r.kind in data.settings.encryption_kinds
	not r.encrypted == true
}

deny contains result("audit_log_retention", "missing", "the deploy plan sets no audit-log retention", sprintf("log retention of at least %d days in the plan (logging.retention_days)", [data.settings.audit_log_retention_days_min])) if {
	input.logging
	not is_number(input.logging.retention_days)
}

deny contains result("audit_log_retention", "too_short", sprintf("audit logs are kept %v days; at least %d required", [input.logging.retention_days, data.settings.audit_log_retention_days_min]), sprintf("log retention of at least %d days in the plan", [data.settings.audit_log_retention_days_min])) if {
	is_number(input.logging.retention_days)
	input.logging.retention_days < data.settings.audit_log_retention_days_min
}

deny contains result("two_approvers_prod", "approvers", sprintf("a prod release needs %d distinct approvers; it has %d", [data.settings.prod_min_approvers, n]), sprintf("approvals by %d different people recorded in the audit log", [data.settings.prod_min_approvers])) if {
	input.environment == "prod"
	n := count({a | some a in input.approvers})
	n < data.settings.prod_min_approvers
}

deny contains result("backup_retention", r.address, sprintf("%s keeps backups %v days; at least %d required", [r.address, object.get(r, "backup_retention_days", 0), data.settings.backup_retention_days_min]), sprintf("automated backups kept at least %d days (backup_retention_days)", [data.settings.backup_retention_days_min])) if {
	some r in input.resources
	r.kind in data.settings.backup_kinds
	object.get(r, "backup_retention_days", 0) < data.settings.backup_retention_days_min
}

# audit: the repository audit found no error-severity gap (port unknown, no tests, ...).
# Gaps another gate owns (committed_secrets -> secrets) are listed in audit_ignore_gaps.
package prodsprint.readiness

import rego.v1

deny contains result("audit", g.finding, sprintf("%s: %s", [g.code, g.message]), sprintf("an audit without the %s gap: %s", [g.code, g.remediation])) if {
	some g in input.audit_gaps
	g.severity == "error"
	not g.code in {c | some c in data.settings.audit_ignore_gaps}
}

warn contains result("audit", g.finding, sprintf("%s: %s", [g.code, g.message]), g.remediation) if {
	some g in input.audit_gaps
	g.severity == "warning"
	not g.code in {c | some c in data.settings.audit_ignore_gaps}
}

# vulnerabilities: no known vulnerability of a blocking severity (HIGH, CRITICAL) stays unwaived.
# A waiver can target one vulnerability id as its finding.
package prodsprint.readiness

import rego.v1

deny contains result("vulnerabilities", v.id, sprintf("%s %s in %s %s (%s)", [v.severity, v.id, v.package, v.version, v.fix]), "a vulnerability report without this finding (upgrade the package) or a waiver for it") if {
	some v in input.vulnerabilities
	v.severity in data.settings.vulnerability_block_severities
}

warn contains result("vulnerabilities", v.id, sprintf("%s %s in %s %s (%s)", [v.severity, v.id, v.package, v.version, v.fix]), "a vulnerability report without this finding") if {
	some v in input.vulnerabilities
	v.severity in data.settings.vulnerability_warn_severities
}

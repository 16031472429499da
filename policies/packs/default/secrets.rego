# secrets: no plaintext secret is committed (the audit reports kind and place, never the value).
# Secrets under tests/ or examples/ only warn when the pack allows it.
package prodsprint.readiness

import rego.v1

allowed_secret(s) if {
	s.in_test_or_example
	data.settings.secrets_allow_in_tests
}

deny contains result("secrets", sprintf("%s:%d", [s.path, s.line]), sprintf("plaintext %s committed at %s:%d", [s.kind, s.path, s.line]), "an audit with the secret removed from the tree, rotated, and read from a secret store") if {
	some s in input.secrets
	not allowed_secret(s)
}

warn contains result("secrets", sprintf("%s:%d", [s.path, s.line]), sprintf("%s in test/example file %s:%d", [s.kind, s.path, s.line]), "test data without real credentials") if {
	some s in input.secrets
	allowed_secret(s)
}

# tests: the repository's own test suite ran and passed.
package prodsprint.readiness

import rego.v1

deny contains result("tests", "failed", sprintf("%d of %d tests failed or errored", [n, input.tests.total]), "a test run with no failures or errors") if {
	n := input.tests.failed + input.tests.errors
	n > 0
}

deny contains result("tests", "too_few", sprintf("%d tests ran; the pack needs at least %d", [input.tests.total, data.settings.tests_min_total]), sprintf("a test run with at least %d tests", [data.settings.tests_min_total])) if {
	input.tests.total < data.settings.tests_min_total
}

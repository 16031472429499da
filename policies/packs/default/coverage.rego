# coverage: line coverage overall and on the changed lines (patch).
package prodsprint.readiness

import rego.v1

deny contains result("coverage", "total", sprintf("line coverage %.1f%% is below the %v%% minimum", [input.coverage.percent, data.settings.coverage_min]), sprintf("a coverage report with line coverage >= %v%%", [data.settings.coverage_min])) if {
	is_number(input.coverage.percent)
	input.coverage.percent < data.settings.coverage_min
}

deny contains result("coverage", "patch", sprintf("patch coverage %.1f%% is below the %v%% minimum", [input.coverage.patch_percent, data.settings.patch_coverage_min]), sprintf("a coverage report with patch coverage >= %v%%", [data.settings.patch_coverage_min])) if {
	is_number(input.coverage.patch_percent)
	input.coverage.patch_percent < data.settings.patch_coverage_min
}

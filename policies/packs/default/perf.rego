# perf: the perf baseline stays within the pack's budgets and does not regress too far.
package prodsprint.readiness

import rego.v1

deny contains result("perf", metric, sprintf("%s is %v, over the budget of %v", [metric, value, budget]), sprintf("a perf run with %s <= %v", [metric, budget])) if {
	some metric, budget in data.settings.perf_budgets
	value := input.perf.metrics[metric]
	value > budget
}

deny contains result("perf", sprintf("%s_regression", [metric]), sprintf("%s regressed %.1f%% (from %v to %v; limit %v%%)", [metric, pct, base, value, data.settings.perf_max_regression_pct]), sprintf("a perf run within %v%% of the baseline", [data.settings.perf_max_regression_pct])) if {
	some metric, base in input.perf.baseline
	endswith(metric, "_ms")
	base > 0
	value := input.perf.metrics[metric]
	pct := ((value - base) * 100) / base
	pct > data.settings.perf_max_regression_pct
}

warn contains result("perf", metric, sprintf("%s has a budget but was not measured", [metric]), sprintf("a perf run reporting %s", [metric])) if {
	input.perf
	some metric, _ in data.settings.perf_budgets
	not input.perf.metrics[metric]
}

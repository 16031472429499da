# perf: absolute budgets (the whole run and every route) and regressions against the accepted
# baseline.
#
# Regressions are judged by the perf stage with statistics Rego cannot do (Mann-Whitney U and
# Fisher exact tests plus effect-size bounds, see docs/perf.md) and arrive as
# input.perf.regressions, one entry per metric and route with a verdict; only the verdict
# "regression" blocks, so plain noise between two runs of the same build never does. A perf
# input without verdicts (another tool's report) falls back to the raw relative rule:
# a *_ms metric more than perf_max_regression_pct above its baseline.
#
# Strings built from other strings use concat: regopy quotes a computed string passed to
# sprintf (see common.rego).
package prodsprint.readiness

import rego.v1

perf_where(entry) := "" if entry.route == "*"

perf_where(entry) := concat("", [":", entry.service, " ", entry.route]) if entry.route != "*"

perf_on(entry) := "" if entry.route == "*"

perf_on(entry) := concat("", [" on ", entry.service, " ", entry.route]) if entry.route != "*"

# [metric, where, value, budget] for the whole run ...
perf_over_budget contains [metric, {"route": "*"}, value, budget] if {
	some metric, budget in data.settings.perf_budgets
	value := input.perf.metrics[metric]
	value > budget
}

# ... and for every route, so one slow route cannot hide behind fast ones.
perf_over_budget contains [metric, {"route": route.route, "service": route.service}, value, budget] if {
	some route in input.perf.routes
	some metric, budget in data.settings.perf_budgets
	value := route[metric]
	is_number(value)
	value > budget
}

deny contains result("perf", concat("", [metric, perf_where(where)]), concat("", [metric, perf_on(where), sprintf(" is %v, over the budget of %v", [value, budget])]), sprintf("a perf run with %s <= %v", [metric, budget])) if {
	some [metric, where, value, budget] in perf_over_budget
}

# [finding, message] of every regression.
# The stage's own explanation when present (regopy prints tiny p-values as 0).
perf_reason(entry) := entry.reason if is_string(entry.reason)

perf_reason(entry) := sprintf("%v -> %v (effect %v)", [entry.baseline, entry.value, entry.effect]) if not is_string(entry.reason)

perf_regressions contains [concat("", [entry.metric, "_regression", perf_where(entry)]), concat("", [entry.metric, " regressed", perf_on(entry), ": ", perf_reason(entry)])] if {
	some entry in input.perf.regressions
	entry.verdict == "regression"
}

perf_regressions contains [sprintf("%s_regression", [metric]), sprintf("%s regressed %.1f%% (from %v to %v; limit %v%%)", [metric, pct, base, value, data.settings.perf_max_regression_pct])] if {
	not input.perf.regressions
	some metric, base in input.perf.baseline
	endswith(metric, "_ms")
	base > 0
	value := input.perf.metrics[metric]
	pct := ((value - base) * 100) / base
	pct > data.settings.perf_max_regression_pct
}

deny contains result("perf", finding, msg, "a perf run without a significant, sizeable regression against the accepted baseline (or a newly accepted baseline: prodsprint perf-accept)") if {
	some [finding, msg] in perf_regressions
}

warn contains result("perf", metric, sprintf("%s has a budget but was not measured", [metric]), sprintf("a perf run reporting %s", [metric])) if {
	input.perf
	some metric, _ in data.settings.perf_budgets
	not input.perf.metrics[metric]
}

warn contains result("perf", concat("", [entry.metric, "_change", perf_where(entry)]), concat("", [entry.metric, " changed", perf_on(entry), " within the allowance: ", sprintf("%v -> %v", [entry.baseline, entry.value])]), "no action needed") if {
	some entry in input.perf.regressions
	entry.verdict == "within_bounds"
}

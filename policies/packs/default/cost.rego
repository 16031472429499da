# cost: the monthly estimate stays under the ceiling and does not jump too much.
package prodsprint.readiness

import rego.v1

deny contains result("cost", "ceiling", sprintf("estimated $%.2f/month exceeds the $%v ceiling", [input.cost.monthly_usd, data.settings.cost_ceiling_usd_month]), sprintf("a cost estimate <= $%v/month", [data.settings.cost_ceiling_usd_month])) if {
	input.cost.monthly_usd > data.settings.cost_ceiling_usd_month
}

deny contains result("cost", "increase", sprintf("estimated cost rises %.1f%% ($%.2f to $%.2f/month; limit %v%%)", [pct, prev, input.cost.monthly_usd, data.settings.cost_max_increase_pct]), sprintf("a cost diff within +%v%% of the applied plan", [data.settings.cost_max_increase_pct])) if {
	prev := input.cost.previous_monthly_usd
	prev > 0
	pct := ((input.cost.monthly_usd - prev) * 100) / prev
	pct > data.settings.cost_max_increase_pct
}

warn contains result("cost", "unknown", concat("", ["cost unknown (no pricing entry) for ", concat(", ", input.cost.unknown)]), "pricing entries for every resource") if {
	count(input.cost.unknown) > 0
}

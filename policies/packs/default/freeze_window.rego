# freeze_window: no release while a freeze window of the pack is active.
# The engine resolves the window (cron, weekly span or date range, in its time zone) into
# input.freeze; an approval may override it only with an emergency reason.
package prodsprint.readiness

import rego.v1

deny contains result("freeze_window", input.freeze.name, sprintf("freeze window %s (%s, %s) is active until %s", [input.freeze.name, input.freeze.spec, input.freeze.timezone, input.freeze.ends_at]), "a release after the window ends, or an approval with an emergency reason") if {
	input.freeze.active
}

# Shared helpers of the readiness package, and the rule for inputs that cannot be read.
#
# Every pack module is `package prodsprint.readiness` and adds to two sets:
#   deny: blocks the gate (unless waived); warn: shown, never blocks.
# Each entry is result(gate, finding, msg, evidence): the finding is what a waiver can target,
# the evidence says what would satisfy the rule, and the control id comes from the pack's
# `controls` setting (null in the default pack).
#
# rego-cpp quirks to respect when writing rules (regopy 1.5): sprintf has no %q, and
# sprintf("%s", [concat(...)]) quotes the joined string, so build such messages with concat.
package prodsprint.readiness

import rego.v1

result(gate, finding, msg, evidence) := {
	"gate": gate,
	"finding": finding,
	"msg": msg,
	"control": object.get(object.get(data.settings, "controls", {}), gate, null),
	"evidence": evidence,
}

# An input that is present but unreadable fails its gates: it is never "not measured".
deny contains result(gate, "malformed", sprintf("input cannot be read: %s", [msg]), "a well-formed input document") if {
	some gate, msg in input.malformed
}

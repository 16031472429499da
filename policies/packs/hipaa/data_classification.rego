# HIPAA: every data store carries a data_classification tag, so PHI stores are known.
# The engine copies the tag into r.classification ("none" when the tag is absent).
package prodsprint.readiness

import rego.v1

deny contains result("data_classification", r.address, sprintf("%s (%s) has no valid data_classification tag (got '%s')", [r.address, r.kind, r.classification]), concat("", ["a data_classification tag, one of ", concat(", ", data.settings.data_classification_levels)])) if {
	some r in input.resources
	r.kind in data.settings.classification_kinds
	not r.classification in {l | some l in data.settings.data_classification_levels}
}

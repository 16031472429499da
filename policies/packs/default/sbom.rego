# sbom: a software bill of materials exists, in a standard format, and lists components.
package prodsprint.readiness

import rego.v1

sbom_formats := {"cyclonedx", "spdx"}

deny contains result("sbom", "format", sprintf("SBOM format '%s' is neither CycloneDX nor SPDX", [input.sbom.format]), "a CycloneDX or SPDX SBOM") if {
	input.sbom
	not input.sbom.format in sbom_formats
}

deny contains result("sbom", "components", sprintf("SBOM lists %d components; at least %d expected", [input.sbom.components, data.settings.sbom_min_components]), "an SBOM generated from the lockfiles, listing the dependencies") if {
	input.sbom.components < data.settings.sbom_min_components
}

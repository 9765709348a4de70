package arcpolicy.no_preview_in_production_test

import data.arcpolicy.lib.fixtures_test as fx
import data.arcpolicy.no_preview_in_production as policy

preview := fx.extension("dapr", "microsoft.dapr", {"releaseTrain": "Preview"})

stable := fx.extension("flux", "microsoft.flux", {"releaseTrain": "Stable"})

test_each_preview_extension_is_a_violation if {
	violations := policy.violation with input.resource as fx.k3s with input.extensions as [preview, stable] with input.parameters as {}
	count(violations) == 1
	some violation in violations
	violation.remediation == {"name": "dapr", "action": "update", "properties": {"releaseTrain": "Stable"}}
}

test_only_production_clusters_are_applicable if {
	policy.applicable with input.resource as fx.connected_cluster("k3s", {"environment": "Production"}) with input.extensions as [] with input.parameters as {}
	not policy.applicable with input.resource as fx.connected_cluster("k3s", {"environment": "dev"}) with input.extensions as [] with input.parameters as {}
	not policy.applicable with input.resource as fx.connected_cluster("k3s", {}) with input.extensions as [] with input.parameters as {}
}

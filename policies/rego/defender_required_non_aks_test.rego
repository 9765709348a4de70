package arcpolicy.defender_required_non_aks_test

import data.arcpolicy.defender_required_non_aks as policy
import data.arcpolicy.lib.fixtures_test as fx

defender(state) := fx.extension("defender", "microsoft.azuredefender.kubernetes", {"provisioningState": state})

test_running_defender_is_compliant if {
	count(policy.violation) == 0 with input.resource as fx.k3s with input.extensions as [defender("Succeeded")] with input.parameters as {}
}

test_failed_defender_is_a_violation if {
	extensions := [defender("Failed")]
	count(policy.violation) == 1 with input.resource as fx.k3s with input.extensions as extensions with input.parameters as {}
}

test_missing_defender_names_the_distribution if {
	some violation in policy.violation with input.resource as fx.connected_cluster("openshift", {}) with input.extensions as [] with input.parameters as {}
	contains(violation.msg, "openshift")
}

test_aks_distributions_are_not_applicable if {
	not policy.applicable with input.resource as fx.connected_cluster("aks_edge_essentials", {}) with input.extensions as [] with input.parameters as {}
	not policy.applicable with input.resource as fx.managed_cluster with input.extensions as [] with input.parameters as {}
	policy.applicable with input.resource as fx.connected_cluster("eks", {}) with input.extensions as [] with input.parameters as {}
}

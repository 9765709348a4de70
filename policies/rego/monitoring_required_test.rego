package arcpolicy.monitoring_required_test

import data.arcpolicy.lib.fixtures_test as fx
import data.arcpolicy.monitoring_required as policy

stable := fx.extension("azuremonitor-containers", "Microsoft.AzureMonitor.Containers", {"releaseTrain": "stable"})

preview := fx.extension("monitoring", "microsoft.azuremonitor.containers", {"releaseTrain": "Preview"})

test_stable_monitoring_is_compliant if {
	count(policy.violation) == 0 with input.resource as fx.k3s with input.extensions as [stable] with input.parameters as {}
}

test_missing_monitoring_creates_the_extension if {
	some violation in policy.violation with input.resource as fx.k3s with input.extensions as [] with input.parameters as {}
	violation.remediation.name == "azuremonitor-containers"
	violation.remediation.properties.releaseTrain == "Stable"
}

test_preview_monitoring_is_moved_to_stable_in_place if {
	some violation in policy.violation with input.resource as fx.k3s with input.extensions as [preview] with input.parameters as {}
	violation.remediation.name == "monitoring"
	violation.details.installedTrains == ["Preview"]
}

test_aks_is_not_applicable if {
	not policy.applicable with input.resource as fx.managed_cluster with input.extensions as [] with input.parameters as {}
}

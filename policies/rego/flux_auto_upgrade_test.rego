package arcpolicy.flux_auto_upgrade_test

import data.arcpolicy.flux_auto_upgrade as policy
import data.arcpolicy.lib.fixtures_test as fx

flux(auto_upgrade) := fx.extension("flux-system", "microsoft.flux", {"autoUpgradeMinorVersion": auto_upgrade})

test_auto_upgrading_flux_is_compliant if {
	count(policy.violation) == 0 with input.resource as fx.k3s with input.extensions as [flux(true)] with input.parameters as {}
}

test_pinned_flux_is_updated_in_place if {
	some violation in policy.violation with input.resource as fx.k3s with input.extensions as [flux(false)] with input.parameters as {}
	violation.remediation.name == "flux-system"
	violation.remediation.properties.autoUpgradeMinorVersion == true
}

test_missing_flux_is_created if {
	some violation in policy.violation with input.resource as fx.k3s with input.extensions as [] with input.parameters as {}
	violation.remediation.name == "flux"
}

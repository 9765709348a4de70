package arcpolicy.pinned_versions_allowed_test

import data.arcpolicy.lib.fixtures_test as fx
import data.arcpolicy.pinned_versions_allowed as policy

pinned(version) := fx.extension("flux", "microsoft.flux", {"autoUpgradeMinorVersion": false, "version": version})

flux_allow_list := {"allowedVersions": {"Microsoft.Flux": ["1.14.0", "1.14.1"]}}

test_allowed_pinned_version_is_compliant if {
	allow_list := flux_allow_list
	count(policy.violation) == 0 with input.resource as fx.k3s with input.extensions as [pinned("1.14.0")] with input.parameters as allow_list
}

test_other_pinned_version_moves_to_the_preferred_one if {
	extensions := [pinned("1.13.1")]
	allow_list := flux_allow_list
	violations := policy.violation with input.resource as fx.k3s with input.extensions as extensions with input.parameters as allow_list
	some violation in violations
	violation.remediation.properties.version == "1.14.1"
	violation.details.version == "1.13.1"
}

test_auto_upgrading_extensions_are_not_governed if {
	unpinned := fx.extension("flux", "microsoft.flux", {"autoUpgradeMinorVersion": true, "version": "0.1"})
	allow_list := flux_allow_list
	count(policy.violation) == 0 with input.resource as fx.k3s with input.extensions as [unpinned] with input.parameters as allow_list
}

test_without_parameters_nothing_is_governed if {
	count(policy.violation) == 0 with input.resource as fx.k3s with input.extensions as [pinned("0.0.1")] with input.parameters as {}
}

package contoso.flux_test

import data.contoso.flux

store := {"type": "Microsoft.Kubernetes/connectedClusters"}

locked := {"name": "flux", "properties": {"extensionType": "microsoft.flux", "configurationSettings": {"multiTenancy.enforce": "true"}}}

open := {"name": "flux", "properties": {"extensionType": "microsoft.flux", "configurationSettings": {}}}

test_locked_down_flux_is_compliant if {
	count(flux.violation) == 0 with input.resource as store with input.extensions as [locked]
}

test_open_flux_is_updated_in_place if {
	some violation in flux.violation with input.resource as store with input.extensions as [open]
	violation.remediation.action == "update"
}

test_missing_flux_is_installed if {
	some violation in flux.violation with input.resource as store with input.extensions as []
	violation.remediation.name == "flux"
}

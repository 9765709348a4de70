package arcpolicy.retired_extensions_absent_test

import data.arcpolicy.lib.fixtures_test as fx
import data.arcpolicy.retired_extensions_absent as policy

osm := fx.extension("osm", "Microsoft.OpenServiceMesh", {})

dapr := fx.extension("dapr", "microsoft.dapr", {})

test_open_service_mesh_is_deleted_by_default if {
	violations := policy.violation with input.resource as fx.k3s with input.extensions as [osm, dapr] with input.parameters as {}
	count(violations) == 1
	some violation in violations
	violation.remediation == {"name": "osm", "action": "delete"}
}

test_parameter_replaces_the_retired_list if {
	violations := policy.violation with input.resource as fx.k3s with input.extensions as [osm, dapr] with input.parameters as {"retiredExtensionTypes": ["microsoft.dapr"]}
	[violation.remediation.name | some violation in violations] == ["dapr"]
}

test_clusters_without_retired_extensions_are_compliant if {
	count(policy.violation) == 0 with input.resource as fx.k3s with input.extensions as [dapr] with input.parameters as {}
}

package authors.fleet.pinned_versions_test

import data.authors.fleet.pinned_versions

arc := {"type": "Microsoft.Kubernetes/connectedClusters", "name": "edge-01"}

pinned(name, version) := {
	"name": name,
	"properties": {"extensionType": "microsoft.flux", "autoUpgradeMinorVersion": false, "version": version},
}

test_an_old_pin_is_a_violation if {
	count(pinned_versions.violation) == 1 with input as {"resource": arc, "extensions": [pinned("flux", "1.2.0")]}
}

test_a_current_pin_is_compliant if {
	count(pinned_versions.violation) == 0 with input as {"resource": arc, "extensions": [pinned("flux", "1.6.1")]}
}

test_the_minimum_is_a_parameter if {
	count(pinned_versions.violation) == 1 with input as {
		"resource": arc,
		"extensions": [pinned("flux", "1.6.1")],
		"parameters": {"minimumVersion": "2.0.0"},
	}
}

# copied from the test above and never renamed: OPA runs both (this one as #01)
test_the_minimum_is_a_parameter if {
	count(pinned_versions.violation) == 0 with input as {
		"resource": arc,
		"extensions": [pinned("flux", "1.6.1")],
		"parameters": {"minimumVersion": "1.0.0"},
	}
}

test_a_preview_pin_is_updated if {
	some found in pinned_versions.violation with input as {"resource": arc, "extensions": [pinned("f", "1.9.0-preview")]}
	found.remediation.action == "update"
}

test_applicable_to_arc_only if {
	pinned_versions.applicable with input.resource as arc
	not pinned_versions.applicable with input.resource as {"type": "Microsoft.ContainerService/managedClusters"}
}

versions_table := {
	"1.0.0": 1,
	"1.3.9": 1,
	"1.4.0": 0,
	"2.0.0": 0,
	"1.5.0-preview": 1,
}

test_versions[version] if {
	some version, expected in versions_table
	print("checking", version)
	found := pinned_versions.violation with input as {"resource": arc, "extensions": [pinned("flux", version)]}
	count(found) == expected
}

test_extension_types if {
	pinned_versions.extension_types == {"microsoft.flux"} with input.extensions as [pinned("a", "1.0.0")]
}

test_every_pinned_is_known if {
	pinned_versions.every_pinned_is_known with input.extensions as [pinned("a", "1.0.0")]
}

test_pinned_is_a_set_not_true contains name if {
	some extension in pinned_versions.pinned with input.extensions as [pinned("a", "1.0.0")]
	name := extension.name
}

todo_test_managed_clusters_need_arc if {
	count(pinned_versions.violation) == 1 with input.resource.type as "Microsoft.ContainerService/managedClusters"
}

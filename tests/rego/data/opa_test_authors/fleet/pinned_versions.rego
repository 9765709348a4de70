# METADATA
# title: Pinned extensions run a supported version
# custom:
#   effect: audit
package authors.fleet.pinned_versions

import data.authors.lib.versions

default minimum := "1.4.0"

minimum := input.parameters.minimumVersion

applicable if input.resource.type == "Microsoft.Kubernetes/connectedClusters"

pinned contains extension if {
	some extension in input.extensions
	extension.properties.autoUpgradeMinorVersion == false
}

violation contains {"msg": msg, "details": {"version": version}} if {
	some extension in pinned
	version := extension.properties.version
	versions.older(version, minimum)
	msg := sprintf("%s is pinned to %s, older than %s", [extension.name, version, minimum])
}

violation contains {
	"msg": sprintf("%s is pinned to a preview", [extension.name]),
	"remediation": {"name": extension.name, "action": "update"},
} if {
	some extension in pinned
	versions.is_preview(extension.properties.version)
}

violation contains {"msg": "the cluster is not Arc-enabled"} if {
	input.resource.type == "Microsoft.ContainerService/managedClusters"
	input.parameters.arcOnly == true
}

extension_types := {lower(extension.properties.extensionType) |
	some extension in input.extensions
}

every_pinned_is_known if {
	every extension in pinned {
		extension.properties.extensionType in {"microsoft.flux", "microsoft.azuremonitor.containers"}
	}
}

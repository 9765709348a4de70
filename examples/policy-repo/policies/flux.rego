# METADATA
# title: Stores run Flux with the multi-tenancy lockdown
# description: >-
#   Every Arc-enabled store cluster runs the Flux extension (microsoft.flux) with
#   multiTenancy.enforce set to "true"; a missing or open Flux is (re)installed locked down.
# custom:
#   effect: deployIfNotExists
package contoso.flux

flux_type := "microsoft.flux"

applicable if lower(input.resource.type) == "microsoft.kubernetes/connectedclusters"

fluxes := [extension |
	some extension in input.extensions
	lower(object.get(extension.properties, "extensionType", "")) == flux_type
]

locked_down(extension) if {
	object.get(extension.properties, ["configurationSettings", "multiTenancy.enforce"], "false") == "true"
}

locked_settings := {"multiTenancy.enforce": "true"}

violation contains {
	"msg": "Flux is not installed",
	"remediation": {"name": "flux", "properties": {
		"extensionType": flux_type,
		"autoUpgradeMinorVersion": true,
		"releaseTrain": "Stable",
		"scope": {"cluster": {"releaseNamespace": "flux-system"}},
		"configurationSettings": locked_settings,
	}},
} if {
	count(fluxes) == 0
}

violation contains {
	"msg": concat("", ["Flux extension ", extension.name, " does not enforce multi-tenancy"]),
	"remediation": {"name": extension.name, "action": "update", "properties": {"configurationSettings": locked_settings}},
} if {
	some extension in fluxes
	not locked_down(extension)
}

# METADATA
# title: Flux installed with minor-version auto-upgrade
# description: >-
#   Every Arc-enabled cluster runs the Flux extension (microsoft.flux) with
#   autoUpgradeMinorVersion on, so GitOps keeps receiving fixes.
# custom:
#   effect: deployIfNotExists
package arcpolicy.flux_auto_upgrade

import data.arcpolicy.lib.extensions

flux_type := "microsoft.flux"

applicable if extensions.is_connected_cluster

flux_extensions := extensions.of_type(flux_type)

auto_upgrading := [extension |
	some extension in flux_extensions
	extension.properties.autoUpgradeMinorVersion == true
]

violation contains {
	"msg": "Flux extension is missing or does not auto-upgrade minor versions",
	"remediation": {
		"name": extensions.first_name(flux_extensions, "flux"),
		"properties": {
			"extensionType": flux_type,
			"autoUpgradeMinorVersion": true,
			"releaseTrain": "Stable",
			"scope": {"cluster": {"releaseNamespace": "flux-system"}},
		},
	},
} if {
	count(auto_upgrading) == 0
}

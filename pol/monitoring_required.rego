# METADATA
# title: Azure Monitor container insights on the Stable train
# description: >-
#   Every Arc-enabled cluster runs the Azure Monitor containers extension
#   (microsoft.azuremonitor.containers) on the Stable release train, so its
#   telemetry reaches Log Analytics with a supported agent.
# custom:
#   effect: deployIfNotExists
package arcpolicy.monitoring_required

import data.arcpolicy.lib.extensions

monitoring_type := "microsoft.azuremonitor.containers"

applicable if extensions.is_connected_cluster

monitoring_extensions := extensions.of_type(monitoring_type)

on_stable := [extension |
	some extension in monitoring_extensions
	lower(extension.properties.releaseTrain) == "stable"
]

violation contains {
	"msg": "Azure Monitor containers extension is not installed on the Stable release train",
	"details": {"installedTrains": [extensions.property(e, "releaseTrain", null) | some e in monitoring_extensions]},
	"remediation": {
		"name": extensions.first_name(monitoring_extensions, "azuremonitor-containers"),
		"properties": {
			"extensionType": monitoring_type,
			"releaseTrain": "Stable",
			"autoUpgradeMinorVersion": true,
			"scope": {"cluster": {"releaseNamespace": "kube-system"}},
		},
	},
} if {
	count(on_stable) == 0
}

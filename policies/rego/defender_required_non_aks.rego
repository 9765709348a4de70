# METADATA
# title: Microsoft Defender for Containers on non-AKS distributions
# description: >-
#   Arc-enabled clusters on distributions other than AKS (k3s, OpenShift, EKS, GKE ...)
#   run the Defender extension (microsoft.azuredefender.kubernetes), provisioned successfully.
# custom:
#   effect: auditIfNotExists
package arcpolicy.defender_required_non_aks

import data.arcpolicy.lib.extensions

defender_type := "microsoft.azuredefender.kubernetes"

aks_distributions := {"aks", "aks_management", "aks_workload", "aks_edge_essentials"}

default distribution := "unknown"

distribution := input.resource.properties.distribution

applicable if {
	extensions.is_connected_cluster
	distribution_name := lower(distribution) # bound first: OPA evaluates a negated call's arguments before `not`
	not distribution_name in aks_distributions
}

defender_extensions := extensions.of_type(defender_type)

running := [extension |
	some extension in defender_extensions
	lower(extension.properties.provisioningState) == "succeeded"
]

violation contains {
	"msg": concat("", ["Defender extension is not running on this ", distribution, " cluster"]),
	"remediation": {
		"name": extensions.first_name(defender_extensions, "microsoft.azuredefender.kubernetes"),
		"properties": {
			"extensionType": defender_type,
			"autoUpgradeMinorVersion": true,
			"releaseTrain": "Stable",
			"scope": {"cluster": {"releaseNamespace": "mdc"}},
		},
	},
} if {
	count(running) == 0
}

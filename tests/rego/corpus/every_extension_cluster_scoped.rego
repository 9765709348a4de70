# METADATA
# title: Monitoring extensions are cluster-scoped
# custom:
#   effect: audit
package corpus.every_extension_cluster_scoped

monitoring := [extension |
	some extension in input.extensions
	startswith(lower(extension.properties.extensionType), "microsoft.azuremonitor")
]

scoped if {
	every extension in monitoring {
		extension.properties.scope.cluster.releaseNamespace
	}
}

violation contains {"msg": "a monitoring extension is not cluster-scoped"} if {
	count(monitoring) > 0
	not scoped
}

# METADATA
# title: Cluster-scoped types have one instance
# custom:
#   effect: audit
package corpus.one_per_cluster_type

counts := {type_name: n |
	some extension in input.extensions
	type_name := lower(extension.properties.extensionType)
	n := count([e | some e in input.extensions; lower(e.properties.extensionType) == type_name])
}

violation contains {"msg": sprintf("%d instances of %s", [n, type_name])} if {
	some type_name, n in counts
	n > 1
}

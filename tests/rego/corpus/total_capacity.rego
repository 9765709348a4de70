# METADATA
# title: Fleet-wide capacity of a cluster is recorded
# custom:
#   effect: audit
package corpus.total_capacity

capacity := {
	"nodes": input.resource.properties.totalNodeCount,
	"cores": input.resource.properties.totalCoreCount,
}

violation contains {"msg": sprintf("capacity %s", [json.marshal(capacity)])} if {
	sum([capacity.nodes, capacity.cores]) > 200
}

violation contains {"msg": sprintf("max %d min %d", [max(values), min(values)])} if {
	values := [v | some v in capacity]
	max(values) > 10 * min(values)
}

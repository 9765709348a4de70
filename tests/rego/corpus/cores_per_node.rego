# METADATA
# title: Nodes average at least two cores
# custom:
#   effect: audit
package corpus.cores_per_node

ratio := input.resource.properties.totalCoreCount / input.resource.properties.totalNodeCount

violation contains {"msg": sprintf("%.2f cores per node", [ratio])} if ratio < 2

violation contains {"msg": sprintf("rounded average %v", [round(ratio * 10) / 10])} if {
	ratio > 64
}

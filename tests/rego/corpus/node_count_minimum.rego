# METADATA
# title: Production clusters have at least three nodes
# custom:
#   effect: audit
package corpus.node_count_minimum

import data.corpus.lib.cluster

minimum := object.get(input.parameters, "minimumNodes", 3)

violation contains {"msg": sprintf("%d nodes, fewer than %d", [nodes, minimum])} if {
	cluster.is_production
	nodes := input.resource.properties.totalNodeCount
	nodes < minimum
}

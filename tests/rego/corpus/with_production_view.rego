# METADATA
# title: Policies judged as if the cluster were production
# custom:
#   effect: audit
package corpus.with_production_view

import data.corpus.lib.cluster

as_production := object.union(input.resource.tags, {"environment": "production"})

would_be_production if {
	cluster.is_production with input.resource.tags as {"environment": "production"}
}

violation contains {"msg": "production view disagrees"} if {
	not would_be_production
}

violation contains {"msg": sprintf("staging cluster %s would need the Stable train", [input.resource.name])} if {
	cluster.environment == "staging"
	some extension in input.extensions
	lower(extension.properties.releaseTrain) == "preview"
}

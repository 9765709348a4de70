# METADATA
# title: Clusters carry an owner tag
# custom:
#   effect: audit
package corpus.owner_tag_present

import data.corpus.lib.cluster

violation contains {"msg": sprintf("cluster %s has no owner tag", [input.resource.name])} if {
	not cluster.tag("owner")
}

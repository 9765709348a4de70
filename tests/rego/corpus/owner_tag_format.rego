# METADATA
# title: Owner tags name a team
# custom:
#   effect: audit
package corpus.owner_tag_format

import data.corpus.lib.cluster

violation contains {"msg": concat("", ["owner ", owner, " is not a team-* name"])} if {
	owner := cluster.tag("owner")
	is_string(owner)
	not regex.match(`^team-[a-z0-9-]+$`, owner)
}

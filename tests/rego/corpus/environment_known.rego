# METADATA
# title: Environment tag is a known value
# custom:
#   effect: audit
package corpus.environment_known

import data.corpus.lib.cluster

known := {"production", "prod", "staging", "dev", "test"}

violation contains {"msg": sprintf("environment %q is not one of %v", [cluster.environment, sort(known)])} if {
	environment := cluster.environment
	not environment in known
}

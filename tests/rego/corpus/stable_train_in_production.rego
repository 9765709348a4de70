# METADATA
# title: Production extensions follow the Stable train
# custom:
#   effect: audit
package corpus.stable_train_in_production

import data.corpus.lib.cluster
import data.corpus.lib.extensions

applicable if cluster.is_production

violation contains {"msg": sprintf("%s follows %s", [extension.name, train])} if {
	some extension in input.extensions
	train := extensions.train(extension)
	train != "stable"
}

# METADATA
# title: Flux enforces multi-tenancy in production
# custom:
#   effect: audit
package corpus.flux_multitenancy

import data.corpus.lib.cluster
import data.corpus.lib.extensions

applicable if cluster.is_production

violation contains {"msg": sprintf("%s: multiTenancy.enforce is %s", [flux.name, value])} if {
	some flux in extensions.of_type("microsoft.flux")
	value := extensions.setting(flux, "multiTenancy.enforce", "unset")
	value != "true"
}

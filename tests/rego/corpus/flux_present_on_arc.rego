# METADATA
# title: Arc clusters run Flux
# custom:
#   effect: deployIfNotExists
package corpus.flux_present_on_arc

import data.corpus.lib.cluster
import data.corpus.lib.extensions

applicable if cluster.is_arc

violation contains {
	"msg": "Flux is missing",
	"remediation": {"name": "flux", "properties": {"extensionType": "microsoft.flux", "autoUpgradeMinorVersion": true}},
} if {
	not extensions.has_type("microsoft.flux")
}

# METADATA
# title: Defender runs unless the cluster is exempt
# custom:
#   effect: auditIfNotExists
package corpus.defender_or_exempt

import data.corpus.lib.cluster
import data.corpus.lib.extensions

exempt if cluster.tag("defender-exempt") == "true"

violation contains {"msg": "Defender is not running"} if {
	not exempt
	running := [e | some e in extensions.of_type("microsoft.azuredefender.kubernetes"); extensions.succeeded(e)]
	count(running) == 0
}

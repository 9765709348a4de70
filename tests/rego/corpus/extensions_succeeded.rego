# METADATA
# title: Every extension is provisioned
# custom:
#   effect: audit
package corpus.extensions_succeeded

failed := {extension.name: state |
	some extension in input.extensions
	state := object.get(extension.properties, "provisioningState", "Unknown")
	state != "Succeeded"
}

violation contains {"msg": concat(", ", [sprintf("%s=%s", [name, failed[name]]) | some name in sort(object.keys(failed))])} if {
	count(failed) > 0
}

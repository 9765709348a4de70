# METADATA
# title: Extension statuses report no errors
# custom:
#   effect: audit
package corpus.statuses_clean

violation contains {"msg": sprintf("%s: %s", [extension.name, status.message])} if {
	some extension in input.extensions
	some status in object.get(extension.properties, "statuses", [])
	status.level == "Error"
}

violation contains {"msg": sprintf("%s error %s", [extension.name, json.marshal(extension.properties.errorInfo)])} if {
	some extension in input.extensions
	extension.properties.errorInfo != null
}

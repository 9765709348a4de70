# METADATA
# title: Cluster names fit DNS labels
# custom:
#   effect: audit
package corpus.name_length

violation contains {"msg": sprintf("name has %d characters", [count(input.resource.name)])} if {
	count(input.resource.name) > 63
}

violation contains {"msg": "name has characters outside [a-z0-9-]"} if {
	regex.match(`[^a-z0-9-]`, input.resource.name)
}

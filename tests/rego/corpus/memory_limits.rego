# METADATA
# title: Memory limits stay below 4Gi
# custom:
#   effect: audit
package corpus.memory_limits

violation contains {"msg": sprintf("%s memory limit %s is %d bytes", [extension.name, limit, bytes])} if {
	some extension in input.extensions
	limit := object.get(object.get(extension.properties, "configurationSettings", {}), "resources.limits.memory", "512Mi")
	bytes := units.parse_bytes(limit)
	bytes > 4294967296
}

violation contains {"msg": sprintf("%s CPU limit %v", [extension.name, cpu])} if {
	some extension in input.extensions
	cpu := units.parse(object.get(object.get(extension.properties, "configurationSettings", {}), "resources.limits.cpu", "500m"))
	cpu > 2
}

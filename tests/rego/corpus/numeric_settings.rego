# METADATA
# title: Numeric settings are in range
# custom:
#   effect: audit
package corpus.numeric_settings

violation contains {"msg": sprintf("%s.%s = %v out of range", [extension.name, key, number])} if {
	some extension in input.extensions
	some key, value in object.get(extension.properties, "configurationSettings", {})
	endswith(key, "replicas")
	number := to_number(value)
	allowed := numbers.range(1, 5)
	not number in allowed
}

violation contains {"msg": sprintf("%s.%s = %s is not an integer", [extension.name, key, format_int(to_number(value), 10)])} if {
	some extension in input.extensions
	some key, value in object.get(extension.properties, "configurationSettings", {})
	endswith(key, "replicas")
	regex.match(`^[0-9]+\.[0-9]+$`, value)
}

# METADATA
# title: JSON-valued settings are valid JSON
# custom:
#   effect: audit
package corpus.settings_json_valid

violation contains {"msg": sprintf("%s.%s is not valid JSON", [extension.name, key])} if {
	some extension in input.extensions
	some key, value in object.get(extension.properties, "configurationSettings", {})
	endswith(key, ".json")
	not json.is_valid(value)
}

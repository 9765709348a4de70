# METADATA
# title: Extension helpers
package corpus.lib.extensions

of_type(type_name) := [extension |
	some extension in input.extensions
	lower(object.get(extension.properties, "extensionType", "")) == type_name
]

has_type(type_name) if count(of_type(type_name)) > 0

setting(extension, key, fallback) := object.get(object.get(extension.properties, "configurationSettings", {}), key, fallback)

succeeded(extension) if extension.properties.provisioningState == "Succeeded"

train(extension) := lower(extension.properties.releaseTrain) if is_string(extension.properties.releaseTrain)
else := "none"

pinned(extension) if {
	extension.properties.autoUpgradeMinorVersion == false
	is_string(extension.properties.version)
}

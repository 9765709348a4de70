# METADATA
# title: Only documented settings are set
# custom:
#   effect: audit
package corpus.settings_filtered

documented := {"microsoft.flux": ["multiTenancy.enforce", "image-automation-controller.enabled"]}

violation contains {"msg": sprintf("%s sets undocumented %v", [extension.name, sort(extra)])} if {
	some extension in input.extensions
	allowed := documented[extension.properties.extensionType]
	settings := object.get(extension.properties, "configurationSettings", {})
	extra := {key | some key, _ in settings} - {key | some key in allowed}
	count(extra) > 0
}

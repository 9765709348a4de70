# METADATA
# title: Configuration settings match their recorded digest
# custom:
#   effect: audit
package corpus.settings_digest

expected := input.parameters.settingsDigests

violation contains {"msg": sprintf("%s settings digest %s", [extension.name, digest])} if {
	some extension in input.extensions
	digest := crypto.md5(json.marshal(object.get(extension.properties, "configurationSettings", {})))
	expected[extension.name] != digest
}

# METADATA
# title: All-arm64 clusters run only supported types
# custom:
#   effect: audit
package corpus.arm64_supported_types

supported := {"microsoft.flux", "microsoft.azuredefender.kubernetes"}

arm64 if object.get(input.resource.properties, "architecture", "amd64") == "arm64"

violation contains {"msg": sprintf("%s does not run on arm64", [extension.properties.extensionType])} if {
	arm64
	some extension in input.extensions
	extension_type := lower(extension.properties.extensionType)
	not extension_type in supported
}

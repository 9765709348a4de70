# METADATA
# title: Pinned extension versions are in the allowed list
# description: >-
#   An extension pinned to a version (autoUpgradeMinorVersion false) runs a version the
#   allowedVersions parameter lists for its type. Types without a list are not governed.
#   The remediation moves it to the last version listed (the preferred one).
# custom:
#   effect: deployIfNotExists
package arcpolicy.pinned_versions_allowed

import data.arcpolicy.lib.extensions

# parameters.allowedVersions: {"<extension type>": ["<version>", ...]}
default allowed_parameter := {}

allowed_parameter := input.parameters.allowedVersions

allowed_versions := {lower(extension_type): versions |
	some extension_type, versions in allowed_parameter
}

# Filtered in a comprehension: regopy iterates a rule body far more slowly than a comprehension.
pinned := [extension |
	count(allowed_versions) > 0
	some extension in input.extensions
	extension.properties.autoUpgradeMinorVersion == false
	extension.properties.version != null
]

violation contains {
	"msg": concat("", ["extension ", extension.name, " is pinned to ", version, ", which is not an allowed version of ", extension_type]),
	"details": {"version": version, "allowedVersions": allowed},
	"remediation": {"name": extension.name, "action": "update", "properties": {"version": allowed[count(allowed) - 1]}},
} if {
	some extension in pinned
	version := extension.properties.version
	extension_type := lower(extensions.property(extension, "extensionType", ""))
	allowed := allowed_versions[extension_type]
	count(allowed) > 0
	not version in allowed
}

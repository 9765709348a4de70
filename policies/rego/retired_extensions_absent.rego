# METADATA
# title: Retired extensions are absent
# description: >-
#   Extensions whose type is retired (by default Open Service Mesh,
#   microsoft.openservicemesh) are removed from every cluster. The
#   retiredExtensionTypes parameter replaces the default list.
# custom:
#   effect: deployIfNotExists
package arcpolicy.retired_extensions_absent

import data.arcpolicy.lib.extensions

default retired_parameter := ["microsoft.openservicemesh"]

retired_parameter := input.parameters.retiredExtensionTypes

retired_types := {lower(extension_type) | some extension_type in retired_parameter}

# Filtered in a comprehension: regopy iterates a rule body far more slowly than a comprehension.
retired := [extension |
	some extension in input.extensions
	lower(extensions.property(extension, "extensionType", "")) in retired_types
]

violation contains {
	"msg": concat("", ["extension ", extension.name, " has the retired type ", lower(extensions.property(extension, "extensionType", ""))]),
	"details": {"extension": extension.id},
	"remediation": {"name": extension.name, "action": "delete"},
} if {
	some extension in retired
}

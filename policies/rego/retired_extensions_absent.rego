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

violation contains {
	"msg": concat("", ["extension ", extension.name, " has the retired type ", extension_type]),
	"details": {"extension": extension.id},
	"remediation": {"name": extension.name, "action": "delete"},
} if {
	some extension in input.extensions
	extension_type := lower(extensions.property(extension, "extensionType", ""))
	extension_type in retired_types
}

# METADATA
# title: No Preview release train on production clusters
# description: >-
#   Clusters tagged environment=production run no extension from the Preview
#   release train; each offending extension is moved to Stable.
# custom:
#   effect: deployIfNotExists
package arcpolicy.no_preview_in_production

import data.arcpolicy.lib.extensions

applicable if lower(input.resource.tags.environment) == "production"

# Filtered in a comprehension: regopy iterates a rule body far more slowly than a comprehension.
on_preview := [extension |
	some extension in input.extensions
	lower(extension.properties.releaseTrain) == "preview"
]

violation contains {
	"msg": concat("", ["extension ", extension.name, " (", extensions.property(extension, "extensionType", ""), ") is on the Preview release train in production"]),
	"details": {"extension": extension.id, "releaseTrain": extensions.property(extension, "releaseTrain", "")},
	"remediation": {"name": extension.name, "action": "update", "properties": {"releaseTrain": "Stable"}},
} if {
	some extension in on_preview
}

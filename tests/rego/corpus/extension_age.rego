# METADATA
# title: Extensions older than a year are reviewed
# custom:
#   effect: audit
package corpus.extension_age

reference := time.parse_rfc3339_ns("2026-12-01T00:00:00Z")

violation contains {"msg": sprintf("%s was created %d days ago", [extension.name, age])} if {
	some extension in input.extensions
	created := time.parse_rfc3339_ns(extension.systemData.createdAt)
	age := round((reference - created) / 86400000000000)
	age > 365
}

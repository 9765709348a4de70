# METADATA
# title: Clusters created on weekdays (change freeze)
# custom:
#   effect: audit
package corpus.created_weekday

created := time.parse_rfc3339_ns(input.resource.systemData.createdAt)

violation contains {"msg": sprintf("created on a %s", [day])} if {
	day := time.weekday(created)
	day in {"Saturday", "Sunday"}
}

# METADATA
# title: Clusters connected within 30 days
# custom:
#   effect: audit
package corpus.connectivity_recent

reference_ns := time.parse_rfc3339_ns("2026-12-01T00:00:00Z")

last_ns := time.parse_rfc3339_ns(input.resource.properties.lastConnectivityTime)

violation contains {"msg": sprintf("last connected %d days ago", [days])} if {
	days := floor((reference_ns - last_ns) / (24 * 60 * 60 * 1000000000))
	days > 30
}
